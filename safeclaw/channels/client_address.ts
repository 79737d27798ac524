/**
 * Who sent a webhook request, for what the hub counts per sender (refusals in the audit log,
 * Feishu's unsigned URL checks). The hub is handed the request only, so the address is the one
 * serve's connection guard writes in `x-a3s-peer`: the socket's peer, from which it drops any
 * copy a client sent. `X-Forwarded-For` is never read here: behind a reverse proxy every request
 * counts as the proxy's.
 *
 * @module
 */
import { parseIp, PEER_HEADER } from "@a3s/common";

/** The address of a request that came with none (served without the connection guard, tests). */
export const UNKNOWN_CLIENT = "unknown";

/**
 * The address `request` came from, as serve's connection guard wrote it, or
 * {@linkcode UNKNOWN_CLIENT} when it carries no IP address there.
 *
 * @example
 * ```ts
 * import { clientAddress } from "./client_address.ts";
 * const request = new Request("http://localhost/", { headers: { "x-a3s-peer": "203.0.113.9" } });
 * console.log(clientAddress(request)); // "203.0.113.9"
 * console.log(clientAddress(new Request("http://localhost/"))); // "unknown"
 * ```
 */
export function clientAddress(request: Request): string {
  const peer = request.headers.get(PEER_HEADER)?.trim();
  return peer && parseIp(peer) ? peer : UNKNOWN_CLIENT;
}

/**
 * The network a budget counts `address` under: an IPv4 address alone, an IPv6 address by its
 * /64, since one host is routinely given a whole /64 and could otherwise take a budget per
 * address in it. An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) counts as itself.
 *
 * @example
 * ```ts
 * import { clientNetwork } from "./client_address.ts";
 * console.log(clientNetwork("192.0.2.1")); // "192.0.2.1"
 * console.log(clientNetwork("2001:db8:1:2:aaaa::1")); // "2001:db8:1:2::/64"
 * console.log(clientNetwork("::ffff:192.0.2.1")); // "192.0.2.1"
 * ```
 */
export function clientNetwork(address: string): string {
  const bytes = parseIp(address);
  if (!bytes || bytes.length === 4) return address;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return `${groups.join(":")}::/64`;
}
