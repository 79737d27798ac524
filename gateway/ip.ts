/** IPv4 and IPv6 addresses against CIDR lists, for allow/deny lists and trusted proxies. */

function ipv4ToBigInt(ip: string): bigint | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function ipv6ToBigInt(ip: string): bigint | undefined {
  const mapped = ip.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  let text = ip;
  if (mapped) {
    const v4 = ipv4ToBigInt(mapped[2]);
    if (v4 === undefined) return undefined;
    text = `${mapped[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const groups = [...head, ...Array(Math.max(missing, 0)).fill("0"), ...tail];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/** An address as a number and its bit width, or undefined when it is not an IP address. */
export function parseIp(ip: string): { value: bigint; bits: number } | undefined {
  const plain = ip.replace(/^\[|\]$/g, "");
  const v4 = ipv4ToBigInt(plain);
  if (v4 !== undefined) return { value: v4, bits: 32 };
  const v6 = ipv6ToBigInt(plain);
  if (v6 === undefined) return undefined;
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) compares as the IPv4 address.
  if (v6 >> 32n === 0xffffn) return { value: v6 & 0xffffffffn, bits: 32 };
  return { value: v6, bits: 128 };
}

/** True when `ip` lies in `cidr` (`10.0.0.0/8`, `::1`, `192.168.1.5`). */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, lengthText] = cidr.split("/");
  const address = parseIp(ip);
  const network = parseIp(base);
  if (!address || !network || address.bits !== network.bits) return false;
  const length = lengthText === undefined ? network.bits : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > network.bits) return false;
  const shift = BigInt(network.bits - length);
  return (address.value >> shift) === (network.value >> shift);
}

/** True when `ip` lies in any of `cidrs`. */
export function ipInList(ip: string, cidrs: readonly string[]): boolean {
  return cidrs.some((c) => ipInCidr(ip, c));
}
