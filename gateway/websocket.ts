/**
 * WebSocket pass-through: the gateway opens the backend socket first, so a refused upgrade
 * becomes a 502 and the client gets the subprotocol the backend chose, then relays frames both
 * ways as they come and closes each side when the other closes.
 */
import type { Backend } from "./backend.ts";
import { gatewayError } from "./proxy.ts";

/** True when the request asks to upgrade to a WebSocket. */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

function openUpstream(url: URL, protocols: string[], timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no WebSocket handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.onopen = () => {
      clearTimeout(timer);
      resolve(socket);
    };
    socket.onerror = () => {
      clearTimeout(timer);
      reject(new Error("backend refused the WebSocket upgrade"));
    };
  });
}

/** Upgrades `request` and relays it to `backend` at `path`; the backend is busy until close. */
export async function proxyWebSocket(
  request: Request,
  backend: Backend,
  path: string,
  timeoutMs: number,
): Promise<Response> {
  const incoming = new URL(request.url);
  const url = new URL(backend.url.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/$/, "")}${path}`;
  url.search = incoming.search;
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter(Boolean);
  backend.begin();
  let upstream: WebSocket;
  try {
    upstream = await openUpstream(url, protocols, timeoutMs);
  } catch (error) {
    backend.end(false);
    return gatewayError(502, (error as Error).message);
  }
  const { socket, response } = Deno.upgradeWebSocket(request, {
    protocol: upstream.protocol || undefined,
  });
  socket.binaryType = "arraybuffer";
  // Backend frames that arrive before the client side is open wait here.
  const early: (string | ArrayBuffer)[] = [];
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    backend.end(true);
  };
  upstream.onmessage = (e) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
    else early.push(e.data);
  };
  socket.onopen = () => {
    for (const frame of early.splice(0)) socket.send(frame);
  };
  socket.onmessage = (e) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.send(e.data);
  };
  const closeCode = (
    code: number,
  ) => (code === 1000 || (code >= 3000 && code < 5000) ? code : 1000);
  upstream.onclose = (e) => {
    end();
    if (socket.readyState <= WebSocket.OPEN) socket.close(closeCode(e.code), e.reason);
  };
  socket.onclose = (e) => {
    end();
    if (upstream.readyState <= WebSocket.OPEN) upstream.close(closeCode(e.code), e.reason);
  };
  socket.onerror = () => upstream.close();
  upstream.onerror = () => socket.readyState === WebSocket.OPEN && socket.close(1011);
  return response;
}
