/**
 * Who sent a webhook request, for what the hub counts per sender (refusals in the audit log,
 * Feishu's failed URL checks). The address is the one serve's security layer decided and its
 * per-client limits count (`clientAddressOf` in `@a3s/common`): the socket's peer as serve's
 * connection guard saw it, or, behind a proxy named in `trustedProxies`, the nearest untrusted
 * `X-Forwarded-For` hop. The route passes it to the hub; no header of the request is read here,
 * so a request that reaches the hub some other way (a server run without the guard, a client
 * that wrote the guard's header itself) is from {@linkcode UNKNOWN_CLIENT}.
 *
 * @module
 */
import { parseIp } from "@a3s/common";

/** The client of a request whose address is not known (no security layer decided one, tests). */
export const UNKNOWN_CLIENT = "unknown";

/**
 * `address` when it is an IP address, else {@linkcode UNKNOWN_CLIENT}: what the hub counts a
 * request's refusals and budgets under.
 *
 * @example
 * ```ts
 * import { knownClient } from "./client_address.ts";
 * console.log(knownClient("203.0.113.9")); // "203.0.113.9"
 * console.log(knownClient(undefined), knownClient("evil, 10.0.0.1")); // "unknown" "unknown"
 * ```
 */
export function knownClient(address: string | undefined): string {
  const trimmed = address?.trim();
  return trimmed && parseIp(trimmed) ? trimmed : UNKNOWN_CLIENT;
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
