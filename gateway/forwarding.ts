/**
 * Header hygiene between client and backend: hop-by-hop headers stripped both ways (RFC 9110
 * §7.6.1) and the X-Forwarded-* and Forwarded (RFC 7239) headers set, keeping the client's own
 * values only when the peer is a trusted proxy, so a client cannot spoof its address.
 */
import { ipInList } from "./ip.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Removes hop-by-hop headers, including any the Connection header names. */
export function stripHopByHop(headers: Headers): void {
  const named = headers.get("connection");
  if (named) {
    for (const name of named.split(",")) {
      const n = name.trim().toLowerCase();
      if (n) headers.delete(n);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/** Who sent the request and how, as the forwarding headers describe it. */
export interface ClientInfo {
  /** The peer address of the TCP connection. */
  remoteAddr: string;
  /** `http` or `https`, as the client reached the gateway. */
  proto: string;
  /** The Host the client asked for. */
  host: string;
  /**
   * Settles when the response has been delivered (rejects if the client went away first);
   * lets the proxy hand the backend's body straight to the server without a JS relay.
   */
  completed?: Promise<void>;
}

function forwardedNode(ip: string): string {
  return ip.includes(":") ? `"[${ip}]"` : ip;
}

/** Sets X-Forwarded-For/-Host/-Proto and Forwarded on the upstream request headers. */
export function setForwardedHeaders(
  headers: Headers,
  client: ClientInfo,
  trustedProxies: readonly string[],
): void {
  const trusted = trustedProxies.length > 0 && ipInList(client.remoteAddr, trustedProxies);
  const priorFor = trusted ? headers.get("x-forwarded-for") : null;
  const priorForwarded = trusted ? headers.get("forwarded") : null;
  const proto = trusted ? headers.get("x-forwarded-proto") ?? client.proto : client.proto;
  const host = trusted ? headers.get("x-forwarded-host") ?? client.host : client.host;
  headers.set(
    "x-forwarded-for",
    priorFor ? `${priorFor}, ${client.remoteAddr}` : client.remoteAddr,
  );
  headers.set("x-forwarded-proto", proto);
  headers.set("x-forwarded-host", host);
  const element = `for=${
    forwardedNode(client.remoteAddr)
  };host="${client.host}";proto=${client.proto}`;
  headers.set("forwarded", priorForwarded ? `${priorForwarded}, ${element}` : element);
  // The original client: the first hop a trusted chain names, else the peer itself.
  const original = priorFor?.split(",")[0].trim() || client.remoteAddr;
  headers.set("x-real-ip", original);
}
