/** Test support: real backends on free loopback ports and a gateway in front of them. */
import { parseGatewayConfig } from "./config_file.ts";
import type { GatewayConfig } from "./config.ts";
import { type RunningGateway, startGateway } from "./server.ts";

/** A backend server on a free port. */
export interface TestBackend {
  /** Its base URL. */
  url: string;
  /** Requests it has received. */
  seen: Request[];
  /** Stops it. */
  close(): Promise<void>;
}

/** Starts a backend; the default handler echoes method, path and headers as JSON. */
export function startBackend(
  name: string,
  handler?: (request: Request) => Response | Promise<Response>,
): TestBackend {
  const seen: Request[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    seen.push(request);
    if (handler) return handler(request);
    const url = new URL(request.url);
    return Response.json({
      backend: name,
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: Object.fromEntries(request.headers),
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

/** Parses a config the way a file would be, from a JSON-able object. */
export function config(value: unknown): GatewayConfig {
  return parseGatewayConfig(JSON.stringify(value), "test.json");
}

/** Starts a gateway on a free port with `value` as its config. */
export function startTestGateway(value: unknown): Promise<RunningGateway> {
  return startGateway({ config: config(value), port: 0 });
}

/** The gateway's base URL. */
export function base(gateway: RunningGateway): string {
  return `http://127.0.0.1:${gateway.port}`;
}

/** A plain HTTP/1.1 response read off a socket. */
export interface RawResponse {
  /** The status code (0 when the connection closed without one). */
  status: number;
  /** Everything after the head. */
  body: string;
  /** Header lines, lower-cased names. */
  headers: Map<string, string>;
}

/**
 * Sends `head` (and `body`) over a fresh TCP connection and reads to EOF; lets tests send what
 * fetch refuses to (a chosen Host header, floods, malformed requests).
 */
export async function rawRequest(
  port: number,
  head: string,
  body = "",
  timeoutMs = 5000,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(`${head}\r\n\r\n${body}`));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.reduce((acc, c) => {
        const out = new Uint8Array(acc.length + c.length);
        out.set(acc);
        out.set(c, acc.length);
        return out;
      }, new Uint8Array()),
    );
    const [headText, ...rest] = text.split("\r\n\r\n");
    const lines = headText.split("\r\n");
    const status = Number(lines[0]?.split(" ")[1] ?? 0) || 0;
    const headers = new Map(
      lines.slice(1).map((
        l,
      ) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    return { status, body: rest.join("\r\n\r\n"), headers };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // already closed by the timer
    }
  }
}

/** GET `path` with a chosen Host header; returns the status and the body (JSON when it parses). */
export function getWithHost(
  port: number,
  path: string,
  host: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  return requestWithHost(port, "GET", path, host, extra);
}

/** Sends a body-less request with a chosen method and Host header. */
export async function requestWithHost(
  port: number,
  method: string,
  path: string,
  host: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const lines = Object.entries(extra).map(([k, v]) => `\r\n${k}: ${v}`).join("");
  const res = await rawRequest(
    port,
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: 0${lines}`,
  );
  let body = res.body;
  if (res.headers.get("transfer-encoding") === "chunked") body = dechunk(body);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body);
  } catch {
    json = { raw: body };
  }
  return { status: res.status, json };
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  while (rest.length) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) break;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
  return out;
}
