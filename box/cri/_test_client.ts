/**
 * What the CRI tests share: a promise-returning gRPC caller, a channel-protocol (WebSocket)
 * client for `Exec` and `Attach` streams, and whether real namespace pods can run here.
 */
import type * as grpc from "@grpc/grpc-js";

/** What a client saw on one streaming connection. */
export interface Session {
  protocol: string;
  channels: Map<number, Uint8Array[]>;
  closeCode: number;
}

/** Everything a session received on `channel`, as text. */
export function text(session: Session, channel: number): string {
  const parts = session.channels.get(channel) ?? [];
  return parts.map((p) => new TextDecoder().decode(p)).join("");
}

/**
 * A channel-protocol client: connects, lets `drive` send frames, and collects every frame
 * until the server closes (bounded, so a broken server fails the test instead of hanging it).
 */
export function connect(
  url: string,
  protocols: string[],
  drive: (send: (channel: number, data: Uint8Array | string) => void, ws: WebSocket) => void,
  until?: (session: Session) => boolean,
): Promise<Session> {
  const ws = new WebSocket(url.replace(/^http/, "ws"), protocols);
  ws.binaryType = "arraybuffer";
  const session: Session = { protocol: "", channels: new Map(), closeCode: 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(
        new Error(`stream at ${url} did not finish: ${JSON.stringify([...session.channels])}`),
      );
    }, 15000);
    ws.onerror = () => {};
    ws.onopen = () => {
      session.protocol = ws.protocol;
      drive((channel, data) => {
        const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
        const frame = new Uint8Array(bytes.length + 1);
        frame[0] = channel;
        frame.set(bytes, 1);
        ws.send(frame);
      }, ws);
    };
    ws.onmessage = (event) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      const list = session.channels.get(bytes[0]) ?? [];
      list.push(bytes.slice(1));
      session.channels.set(bytes[0], list);
      if (until?.(session)) ws.close();
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      session.closeCode = event.code;
      resolve(session);
    };
  });
}

/** A CRI reply as a plain object. */
export type Reply = Record<string, unknown>;
/** One CRI method, promise-returning. */
export type Call = (request: unknown) => Promise<Reply>;

/** The client's methods as promise-returning calls. */
export function caller(client: grpc.Client): Record<string, Call> {
  return new Proxy({}, {
    get: (_target, method: string) => (request: unknown) =>
      new Promise<Reply>((resolve, reject) => {
        const fn = (client as unknown as Record<string, unknown>)[method] as (
          request: unknown,
          callback: (error: grpc.ServiceError | null, reply: Reply) => void,
        ) => void;
        fn.call(client, request, (error, reply) => (error ? reject(error) : resolve(reply)));
      }),
  });
}

/** Root with bubblewrap and `ip netns`: real namespace pods can run. */
export const canRun: boolean = Deno.uid() === 0 &&
  (await new Deno.Command("bwrap", { args: ["--version"] }).output().then((o) => o.success)
    .catch(() => false)) &&
  (await new Deno.Command("ip", { args: ["netns", "list"] }).output().then((o) => o.success)
    .catch(() => false));
