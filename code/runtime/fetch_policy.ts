/**
 * The fetch policy for URLs a model chooses: http(s) only, no loopback, link-local or private
 * addresses unless allowed (so a prompt cannot point the agent at the host's own services),
 * and an optional host allow-list.
 */
import { globToRegExp } from "./glob.ts";

/** A URL the policy refuses. */
export class FetchPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FetchPolicyError";
  }
}

function privateV4(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number);
  return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
}

function privateV6(ip: string): boolean {
  const x = ip.toLowerCase().replace(/^\[|\]$/g, "");
  if (x === "::1" || x === "::") return true;
  if (x.startsWith("::ffff:")) return privateV4(x.slice(7));
  return /^(fc|fd|fe8|fe9|fea|feb|ff)/.test(x);
}

/** True when `address` (an IP literal) is loopback, private, link-local or multicast. */
export function isPrivateAddress(address: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(address)
    ? privateV4(address)
    : address.includes(":")
    ? privateV6(address)
    : false;
}

/** Options of {@linkcode checkFetchUrl}. */
export interface FetchPolicyOptions {
  allowPrivate: boolean;
  allowHosts?: string[];
  resolve?: (host: string) => Promise<string[]>;
}

async function resolveHost(host: string): Promise<string[]> {
  const out: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      out.push(...await Deno.resolveDns(host, type));
    } catch { /* no record of this type */ }
  }
  return out;
}

/** Throws {@linkcode FetchPolicyError} when `url` may not be fetched. */
export async function checkFetchUrl(url: URL, options: FetchPolicyOptions): Promise<void> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FetchPolicyError(`scheme ${url.protocol} is not allowed`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (options.allowHosts && !options.allowHosts.some((h) => globToRegExp(h, false).test(host))) {
    throw new FetchPolicyError(`host ${host} is not in the agent's allow_hosts`);
  }
  if (options.allowPrivate) return;
  if (host === "localhost" || host.endsWith(".localhost")) {
    throw new FetchPolicyError(`host ${host} is loopback`);
  }
  const addresses =
    isPrivateAddress(host) || host.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(host)
      ? [host]
      : await (options.resolve ?? resolveHost)(host);
  const bad = addresses.find(isPrivateAddress);
  if (bad) {
    throw new FetchPolicyError(
      `host ${host} resolves to a private address (${bad}); set web.allow_private to allow it`,
    );
  }
}
