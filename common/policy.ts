/**
 * The one access policy for host paths and URLs that a request chooses: `/api/pull` today,
 * box volume mounts and code's `web_fetch` later. Every server-side file read or fetch on a
 * caller's behalf goes through {@linkcode AccessPolicy}.
 *
 * - Paths: only under configured roots, compared after `realpath`, so `..` and symlinks
 *   cannot leave a root.
 * - URLs: only allowed schemes and hosts; every name is resolved and every resolved address
 *   checked (private, loopback, link-local and metadata addresses are refused unless
 *   allowed). Plain-HTTP connections are pinned to the checked address, so a DNS answer that
 *   changes between check and connect (DNS rebinding) cannot redirect them; HTTPS relies on
 *   certificate verification for the same. Redirects are followed by hand and each hop is
 *   checked again.
 * - Refusals never tell the caller whether a host path exists or a port is open: every
 *   refused path and every failed fetch reads the same; details go to the server log only.
 */
import { lookup } from "node:dns/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { A3sError, UsageError } from "./errors.ts";
import {
  cidrContains,
  isIpLiteral,
  isNonPublicAddress,
  parseCidr,
  parseIp,
} from "./security/addresses.ts";

/** Validated policy options (defaults applied); see the schema for each field. */
export interface AccessPolicyConfig {
  /** Host directories that requests may read from (local model folders, say). None by default. */
  roots: string[];
  /** URL schemes a server-side fetch may use. */
  schemes: ("http" | "https")[];
  /** Host names a fetch may reach: exact or `*.example.org`. Empty means any public host. */
  hosts: string[];
  /** Non-public addresses a fetch may reach anyway: CIDR blocks, or `*` for all. */
  privateNetworks: string[];
  /** Redirect hops a fetch follows, each one checked again. */
  maxRedirects: number;
  /** Deadline for connecting and receiving response headers, per hop. */
  connectTimeoutMs: number;
}

/** Policy options as given: every field optional. */
export type AccessPolicyConfigInput = Partial<AccessPolicyConfig>;

/** Options of an {@linkcode AccessPolicy}; every field has a safe default. */
export const AccessPolicyConfigSchema: z.ZodType<AccessPolicyConfig, AccessPolicyConfigInput> = z
  .object({
    /** Host directories that requests may read from (for example local model folders). None by default. */
    roots: z.array(z.string().min(1)).default([]),
    /** URL schemes a server-side fetch may use. */
    schemes: z.array(z.enum(["http", "https"])).min(1).default(["https", "http"]),
    /**
     * Host names a fetch may reach: exact names or `*.example.org` (any subdomain). Empty means
     * any public host.
     */
    hosts: z.array(z.string().min(1)).default([]),
    /**
     * Non-public addresses a fetch may reach anyway, as CIDR blocks (`10.0.0.0/8`,
     * `127.0.0.1/32`) or `*` for all of them. Empty by default.
     */
    privateNetworks: z.array(
      z.string().min(1).refine((v) => v === "*" || !!parseCidr(v), {
        message: "must be a CIDR block such as 10.0.0.0/8, or *",
      }),
    ).default([]),
    /** Redirect hops a fetch follows, each one checked again. */
    maxRedirects: z.number().int().min(0).max(20).default(5),
    /** Deadline for connecting and receiving response headers, per hop. */
    connectTimeoutMs: z.number().int().positive().default(30_000),
  });

/** The policy refused a path or URL: a 403 that names the request field. */
export class PolicyError extends A3sError {
  /** A refusal naming the request `field`; `cause` stays in logs. */
  constructor(message: string, field?: string, cause?: unknown) {
    super("forbidden_by_policy", message, { status: 403, field, cause });
    this.name = "PolicyError";
  }
}

/** Resolves a host name to addresses; swappable so tests can play a hostile DNS server. */
export type Resolver = (hostname: string) => Promise<string[]>;

/** Resolves like the system does for `fetch` (getaddrinfo: /etc/hosts, then DNS). */
export async function systemResolver(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
}

/** Something that receives the details of refusals and failures, which callers never see. */
export type PolicyAuditLog = (event: string, fields: Record<string, unknown>) => void;

/** Options for one policy-checked fetch. */
export interface PolicyFetchInit extends Omit<RequestInit, "redirect" | "client"> {
  /** The request field the URL came from, named in errors (for example `model`). */
  field?: string;
}

const PATH_REFUSED = "path is not under an allowed root";
const FETCH_FAILED = "the URL could not be fetched";

function hostMatches(pattern: string, hostname: string): boolean {
  const p = pattern.toLowerCase().replace(/^\[|\]$/g, "");
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (p.startsWith("*.")) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return p === h;
}

/**
 * Checks host paths and URLs that a request names.
 *
 * @example
 * ```ts
 * import { AccessPolicy } from "@a3s/common";
 * const policy = new AccessPolicy({ roots: ["/srv/models"] });
 * const dir = await policy.resolvePath("/srv/models/tiny", "model"); // realpath, or a 403
 * const response = await policy.fetch("https://example.org/model.tgz", { field: "model" });
 * await response.body?.cancel();
 * ```
 */
export class AccessPolicy {
  /** The validated options this policy enforces. */
  readonly config: AccessPolicyConfig;
  readonly #resolver: Resolver;
  readonly #audit: PolicyAuditLog;
  /** Extra trusted roots for HTTPS (a private CA), beside the system's. */
  readonly #caCerts?: string[];
  readonly #allowAllPrivate: boolean;
  readonly #privateBlocks;
  #realRoots?: Promise<string[]>;

  /** Validates `config`; `resolver` and `audit` are for tests and the server log. */
  constructor(
    config: AccessPolicyConfigInput = {},
    options: { resolver?: Resolver; audit?: PolicyAuditLog; caCerts?: string[] } = {},
  ) {
    this.config = AccessPolicyConfigSchema.parse(config);
    this.#resolver = options.resolver ?? systemResolver;
    this.#audit = options.audit ?? (() => {});
    this.#caCerts = options.caCerts;
    this.#allowAllPrivate = this.config.privateNetworks.includes("*");
    this.#privateBlocks = this.config.privateNetworks.filter((v) => v !== "*").map((v) =>
      parseCidr(v)!
    );
  }

  /** The roots as real paths; a root that does not exist admits nothing. */
  #roots(): Promise<string[]> {
    this.#realRoots ??= Promise.all(
      this.config.roots.map((root) => Deno.realPath(resolve(root)).catch(() => undefined)),
    ).then((roots) => roots.filter((r): r is string => r !== undefined));
    return this.#realRoots;
  }

  #under(root: string, path: string): boolean {
    const rel = relative(root, path);
    return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
  }

  /**
   * Returns the real path of `path` when it lies under a configured root, following symlinks
   * before deciding. Any refusal, whether the path is missing, outside every root or a
   * symlink that escapes one, throws the same {@linkcode PolicyError}, so a caller learns
   * nothing about the host's files.
   */
  async resolvePath(path: string, field?: string): Promise<string> {
    const roots = await this.#roots();
    const absolute = resolve(path);
    let real: string | undefined;
    try {
      real = await Deno.realPath(absolute);
    } catch {
      real = undefined;
    }
    if (real !== undefined && roots.some((root) => this.#under(root, real))) return real;
    this.#audit("path refused", { path: absolute, exists: real !== undefined, field });
    throw new PolicyError(`${field ? `${field}: ` : ""}${PATH_REFUSED}`, field);
  }

  /** True when `address` may be reached: public, or inside an allowed private block. */
  #addressAllowed(address: string): boolean {
    if (!isNonPublicAddress(address)) return true;
    if (this.#allowAllPrivate) return true;
    const bytes = parseIp(address);
    return !!bytes && this.#privateBlocks.some((block) => cidrContains(block, bytes));
  }

  /**
   * Checks one URL: scheme, host allow list, and every address its name resolves to.
   * Returns the URL and the address to connect to. Throws a {@linkcode PolicyError}.
   */
  async checkUrl(input: string | URL, field?: string): Promise<{ url: URL; address: string }> {
    const refuse = (reason: string, extra: Record<string, unknown> = {}): never => {
      this.#audit("url refused", { url: String(input), reason, field, ...extra });
      throw new PolicyError(`${field ? `${field}: ` : ""}URL is not allowed (${reason})`, field);
    };
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return refuse("not a valid URL");
    }
    const scheme = url.protocol.replace(/:$/, "");
    if (!(this.config.schemes as string[]).includes(scheme)) {
      return refuse(`scheme '${scheme}' is not allowed`);
    }
    if (url.username || url.password) return refuse("credentials in URLs are not allowed");
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    if (this.config.hosts.length && !this.config.hosts.some((p) => hostMatches(p, hostname))) {
      return refuse(`host '${hostname}' is not in the allowed hosts`);
    }
    let addresses: string[];
    if (isIpLiteral(hostname)) {
      addresses = [hostname];
    } else {
      try {
        addresses = await this.#resolver(hostname);
      } catch (error) {
        this.#audit("resolve failed", { url: url.href, error: String(error), field });
        throw new PolicyError(`${field ? `${field}: ` : ""}${FETCH_FAILED}`, field);
      }
      if (!addresses.length) {
        this.#audit("resolve failed", { url: url.href, error: "no addresses", field });
        throw new PolicyError(`${field ? `${field}: ` : ""}${FETCH_FAILED}`, field);
      }
    }
    // Every answer must pass: a hostile DNS server may mix a public and a private address.
    const blocked = addresses.find((address) => !this.#addressAllowed(address));
    if (blocked !== undefined) {
      return refuse("private, loopback or link-local address", { address: blocked });
    }
    return { url, address: addresses[0] };
  }

  /**
   * Fetches `input` under the policy: each hop's URL is checked, a plain-HTTP connection goes
   * to the checked address (the Host header stays the URL's), and redirects are
   * followed by hand up to `maxRedirects`, each checked again. Network failures throw one
   * uniform {@linkcode PolicyError}-shaped 400 that does not say whether a port is open.
   * The caller consumes or cancels the returned body.
   */
  async fetch(input: string | URL, init: PolicyFetchInit = {}): Promise<Response> {
    const { field, ...request } = init;
    let current: string | URL = input;
    let method = request.method ?? "GET";
    let body = request.body;
    for (let hop = 0;; hop++) {
      const { url, address } = await this.checkUrl(current, field);
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      // Plain HTTP is pinned to the checked address. HTTPS cannot be (Deno's TCP transport
      // would skip TLS), and needs no pin: a name re-pointed at an inner address meets a
      // server that cannot present a certificate for it, so the handshake fails.
      const client = url.protocol === "http:"
        ? Deno.createHttpClient({ proxy: { transport: "tcp", hostname: address, port } })
        : Deno.createHttpClient({ caCerts: this.#caCerts });
      // The deadline covers connecting and the response head, not the body's download.
      const headDeadline = new AbortController();
      const timer = setTimeout(
        () => headDeadline.abort(new Error("connect timeout")),
        this.config.connectTimeoutMs,
      );
      const signal = request.signal
        ? AbortSignal.any([request.signal, headDeadline.signal])
        : headDeadline.signal;
      let response: Response;
      try {
        response = await fetch(url, {
          ...request,
          method,
          body,
          client,
          signal,
          redirect: "manual",
        });
      } catch (error) {
        client.close();
        if (request.signal?.aborted) throw request.signal.reason;
        this.#audit("fetch failed", { url: url.href, address, error: String(error), field });
        throw new A3sError("fetch_failed", `${field ? `${field}: ` : ""}${FETCH_FAILED}`, {
          status: 400,
          field,
        });
      } finally {
        clearTimeout(timer);
      }
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        client.close();
        if (hop >= this.config.maxRedirects) {
          this.#audit("too many redirects", { url: url.href, field });
          throw new PolicyError(`${field ? `${field}: ` : ""}too many redirects`, field);
        }
        current = new URL(location, url);
        // 303, and 301/302 after POST, turn into a GET without a body, as browsers do.
        if (response.status === 303 || (method === "POST" && response.status < 303)) {
          method = "GET";
          body = undefined;
        }
        continue;
      }
      return withClientClosedAtEnd(response, client);
    }
  }
}

/** Wraps the body so the pinned client closes once the body is read or cancelled. */
function withClientClosedAtEnd(response: Response, client: Deno.HttpClient): Response {
  if (!response.body) {
    client.close();
    return response;
  }
  const reader = response.body.getReader();
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      client.close();
    }
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          close();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
      close();
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** Environment variables that override the `policy` section of the config file. */
export const POLICY_ENV_KEYS = {
  roots: "A3S_ROOTS",
  schemes: "A3S_FETCH_SCHEMES",
  hosts: "A3S_FETCH_HOSTS",
  privateNetworks: "A3S_PRIVATE_NETWORKS",
} as const;

/**
 * Reads the policy from the server config's `policy` section, with the comma-separated
 * `A3S_ROOTS`, `A3S_FETCH_SCHEMES`, `A3S_FETCH_HOSTS` and `A3S_PRIVATE_NETWORKS` taking
 * precedence. A bad value throws a one-line {@linkcode UsageError} naming the key and source.
 *
 * @example
 * ```ts
 * import { accessPolicyFromConfig, loadConfig } from "@a3s/common";
 * const policy = accessPolicyFromConfig(loadConfig({ env: {} }), { env: { A3S_ROOTS: "/srv/models" } });
 * console.log(policy.config.roots); // ["/srv/models"]
 * ```
 */
export function accessPolicyFromConfig(
  server: Record<string, unknown>,
  options: {
    env?: Record<string, string | undefined>;
    audit?: PolicyAuditLog;
    resolver?: Resolver;
    caCerts?: string[];
  } = {},
): AccessPolicy {
  const env = options.env ?? Deno.env.toObject();
  const section = server.policy;
  if (
    section !== undefined &&
    (typeof section !== "object" || section === null || Array.isArray(section))
  ) {
    throw new UsageError("config policy: must be an object (from config file)");
  }
  const merged: Record<string, unknown> = { ...(section as Record<string, unknown> | undefined) };
  const fromEnv = new Set<string>();
  for (const [key, name] of Object.entries(POLICY_ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") continue;
    merged[key] = raw.split(",").map((v) => v.trim()).filter(Boolean);
    fromEnv.add(key);
  }
  const result = AccessPolicyConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const where = fromEnv.has(key)
      ? `env ${POLICY_ENV_KEYS[key as keyof typeof POLICY_ENV_KEYS]}`
      : "config file";
    throw new UsageError(
      `config policy.${issue.path.join(".")}: ${issue.message} (from ${where})`,
    );
  }
  return new AccessPolicy(result.data, options);
}
