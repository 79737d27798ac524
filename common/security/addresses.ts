/**
 * IP address parsing and classification: which addresses a server-side fetch may reach.
 * Works on the canonical text forms that the WHATWG URL parser and `getaddrinfo` produce.
 */

/** An address as 16 bytes; IPv4 is stored as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export type Bytes = Uint8Array;

function parseIpv4(text: string): Bytes | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[12 + i] = n;
  }
  return out;
}

function parseIpv6(text: string): Bytes | undefined {
  let body = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) counts as the last two groups.
  const quad = body.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  let tail: number[] = [];
  if (quad) {
    const v4 = parseIpv4(quad[2]);
    if (!v4) return undefined;
    tail = [(v4[12] << 8) | v4[13], (v4[14] << 8) | v4[15]];
    body = quad[1].endsWith("::") ? quad[1] : quad[1].slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const group = (s: string) => (s === "" ? [] : s.split(":"));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  const words: number[] = [];
  for (const g of [...head, ...rest]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
  }
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 && given !== 8) return undefined;
  if (halves.length === 2 && given > 7) return undefined;
  words.push(...head.map((g) => parseInt(g, 16)));
  if (halves.length === 2) { for (let i = given; i < 8; i++) words.push(0); }
  words.push(...rest.map((g) => parseInt(g, 16)), ...tail);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 literal (brackets and zone ids allowed), or undefined. */
export function parseIp(text: string): Bytes | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** True when `text` is an IP literal rather than a host name. */
export function isIpLiteral(text: string): boolean {
  return parseIp(text) !== undefined;
}

/** A parsed CIDR block such as `10.0.0.0/8` or `fc00::/7`. */
export interface Cidr {
  /** The block's address. */
  bytes: Bytes;
  /** Prefix length in bits of the 128-bit form. */
  bits: number;
  /** The block as written. */
  text: string;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const bytes = parseIp(addr);
  if (!bytes) return undefined;
  const v4 = !addr.includes(":");
  const max = v4 ? 32 : 128;
  const n = len === undefined ? max : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > max || (len !== undefined && !/^\d+$/.test(len))) {
    return undefined;
  }
  return { bytes, bits: v4 ? n + 96 : n, text };
}

/** True when `address` (16 bytes) lies inside `block`. */
export function cidrContains(block: Cidr, address: Bytes): boolean {
  let bits = block.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((block.bytes[i] & mask) !== (address[i] & mask)) return false;
  }
  return true;
}

/**
 * Blocks a server-side fetch must not reach unless configured: "this host", private,
 * shared (CGNAT), loopback, link-local (cloud metadata at 169.254.169.254), documentation,
 * benchmarking, multicast and reserved ranges, for both IP versions.
 */
const NON_PUBLIC = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "::1/128",
  "100::/64",
  "2001:db8::/32",
  "fc00::/7",
  "fe80::/10",
  "fec0::/10",
  "ff00::/8",
].map((text) => parseCidr(text)!);

/** Prefixes that embed an IPv4 address in their last 32 bits (NAT64, IPv4-compatible). */
const EMBEDS_IPV4 = ["64:ff9b::/96", "64:ff9b:1::/48", "::/96"].map((text) => parseCidr(text)!);

/** The IPv4 address a 6to4 (2002::/16) address embeds in bytes 2..5. */
const SIX_TO_FOUR = parseCidr("2002::/16")!;

function embeddedIpv4(address: Bytes): Bytes | undefined {
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  if (address.slice(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff))) return undefined;
  if (EMBEDS_IPV4.some((block) => cidrContains(block, address))) {
    // `::` and `::1` are themselves in the non-public list; only real embeddings remain.
    if (address.slice(0, 15).every((b) => b === 0)) return undefined;
    mapped.set(address.slice(12, 16), 12);
    return mapped;
  }
  if (cidrContains(SIX_TO_FOUR, address)) {
    mapped.set(address.slice(2, 6), 12);
    return mapped;
  }
  return undefined;
}

/**
 * True when `address` is not a public unicast address: private, loopback, link-local,
 * metadata, multicast, reserved, or an IPv6 form that embeds such an IPv4 address.
 * Unparseable input counts as non-public, so a surprise never widens access.
 *
 * @example
 * ```ts
 * import { isNonPublicAddress } from "@a3s/common";
 * isNonPublicAddress("169.254.169.254"); // true
 * isNonPublicAddress("::ffff:127.0.0.1"); // true
 * isNonPublicAddress("93.184.216.34"); // false
 * ```
 */
export function isNonPublicAddress(text: string): boolean {
  const address = parseIp(text);
  if (!address) return true;
  if (NON_PUBLIC.some((block) => cidrContains(block, address))) return true;
  const inner = embeddedIpv4(address);
  return inner !== undefined && NON_PUBLIC.some((block) => cidrContains(block, inner));
}

/** True when `text` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopbackAddress(text: string): boolean {
  const address = parseIp(text);
  if (!address) return false;
  return cidrContains(parseCidr("127.0.0.0/8")!, address) ||
    cidrContains(parseCidr("::1/128")!, address);
}

/**
 * True when `url` reaches this host: `localhost` or a loopback address. A URL that does not
 * parse is not.
 *
 * @example
 * ```ts
 * import { isLoopbackUrl } from "@a3s/common";
 * console.log(isLoopbackUrl("http://127.0.0.1:11434/v1"), isLoopbackUrl("https://api.example.com/v1")); // true false
 * ```
 */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || isLoopbackAddress(host);
  } catch {
    return false;
  }
}
