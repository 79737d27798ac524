/**
 * The `security` section of the server config: tokens, allowed hosts and origins, limits.
 * File section `security`, overridden by the `A3S_*` variables in {@linkcode SECURITY_ENV_KEYS};
 * every key defaulted, so an empty section is valid and safe.
 */
import { z } from "zod";
import { UsageError } from "../errors.ts";
import { scopeSchema } from "./scopes.ts";
import { parseCidr } from "./addresses.ts";

/** A token given in config: the secret and the scopes it grants (`admin` when unset). */
export interface ConfiguredToken {
  /** The secret, at least 16 characters. */
  token: string;
  /** What it may do. */
  scopes: string[];
  /** A label for logs. */
  name?: string;
}

const ConfiguredTokenSchema: z.ZodType<ConfiguredToken> = z.object({
  token: z.string().min(16, "must be at least 16 characters"),
  scopes: z.array(scopeSchema).min(1).default(["admin"]),
  name: z.string().min(1).optional(),
});

/** The validated `security` section; see the schema for what each key means. */
export interface SecurityConfig {
  /** Tokens from config; stored tokens (`a3s token create`) need no entry. */
  tokens: ConfiguredToken[];
  /** Extra names served on a loopback bind; on other binds, when set, the only ones. */
  allowedHosts: string[];
  /** Browser origins that may call, besides loopback and same-origin pages. */
  origins: string[];
  /** Demand a JSON content type for bodies from browsers only, or from everyone. */
  requireJsonContentType: "browser" | "always";
  /** Serve a non-loopback bind with no token at all. Loudly unsafe. */
  insecureNoAuthOnPublicBind: boolean;
  /** Requests per minute per client; 0 turns the limit off. */
  requestsPerMinute: number;
  /** Requests a client may burst above the steady rate. */
  requestBurst: number;
  /** In-flight requests per client, streams included; 0 turns the limit off. */
  maxConcurrentRequests: number;
  /**
   * Proxies (CIDR blocks) whose `X-Forwarded-For` is believed, so limits apply to the client
   * behind them rather than to the proxy. None by default.
   */
  trustedProxies: string[];
  /** Largest request head in bytes. */
  maxHeaderBytes: number;
  /** Open connections per client address; more are closed at once. 0 = no limit. */
  maxConnectionsPerClient: number;
  /** Time a client has to send a complete request head. */
  headerTimeoutMs: number;
  /** A connection quiet this long, with no response pending, is closed. */
  idleTimeoutMs: number;
  /** Time a handler has to start its response; 0 turns it off. */
  requestTimeoutMs: number;
}

/** Everything the security layer reads from config. */
export const SecurityConfigSchema: z.ZodType<SecurityConfig> = z.object({
  /**
   * Tokens from config (plain text there; kept only as hashes in memory). Tokens created with
   * `a3s token create` live hashed in the store and need no entry here.
   */
  tokens: z.array(ConfiguredTokenSchema).default([]),
  /**
   * Extra names the server answers to on a loopback bind, besides localhost, 127.0.0.1 and
   * [::1]; on other binds, when set, the only names served. `*` turns the check off.
   */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /**
   * Browser origins that may call the API (`https://app.example.org`, `http://localhost:*`,
   * `*`). Loopback origins (any port) are always allowed, as in Ollama.
   */
  origins: z.array(z.string().min(1)).default([]),
  /**
   * When a JSON content type is demanded for bodies: `browser` (requests a browser sent,
   * that is with an Origin or Sec-Fetch-* header: the ones a page could forge as a simple
   * form or text/plain POST) or `always`.
   */
  requireJsonContentType: z.enum(["browser", "always"]).default("browser"),
  /** Serve on a non-loopback address with no token configured. Loudly unsafe. */
  insecureNoAuthOnPublicBind: z.boolean().default(false),
  /** Requests per minute per client (token, else address); 0 turns the limit off. */
  requestsPerMinute: z.number().int().min(0).default(6000),
  /** Requests a client may burst above the steady rate. */
  requestBurst: z.number().int().min(1).default(1000),
  /** In-flight requests (streams included, until their body ends) per client; 0 = no limit. */
  maxConcurrentRequests: z.number().int().min(0).default(64),
  /** CIDR blocks of reverse proxies whose X-Forwarded-For names the client. */
  trustedProxies: z.array(
    z.string().refine((v) => parseCidr(v) !== undefined, {
      message: "must be a CIDR block such as 10.0.0.0/8",
    }),
  ).default([]),
  /** Largest request head (request line and headers), in bytes. */
  maxHeaderBytes: z.number().int().min(1024).default(32 * 1024),
  maxConnectionsPerClient: z.number().int().min(0).default(512),
  /** Time a client has to send a complete request head. */
  headerTimeoutMs: z.number().int().positive().default(10_000),
  /** A connection that sends and receives nothing for this long is closed. */
  idleTimeoutMs: z.number().int().positive().default(120_000),
  /** Time a handler has to start its response; 0 = no limit. Streams may then run longer. */
  requestTimeoutMs: z.number().int().min(0).default(600_000),
});

/** Environment variables for the section; lists are comma-separated. */
export const SECURITY_ENV_KEYS = {
  tokens: "A3S_TOKENS",
  allowedHosts: "A3S_ALLOWED_HOSTS",
  origins: "A3S_ORIGINS",
  requireJsonContentType: "A3S_REQUIRE_JSON_CONTENT_TYPE",
  insecureNoAuthOnPublicBind: "A3S_INSECURE_NO_AUTH_ON_PUBLIC_BIND",
  requestsPerMinute: "A3S_REQUESTS_PER_MINUTE",
  requestBurst: "A3S_REQUEST_BURST",
  maxConcurrentRequests: "A3S_MAX_CONCURRENT_REQUESTS",
  trustedProxies: "A3S_TRUSTED_PROXIES",
  maxHeaderBytes: "A3S_MAX_HEADER_BYTES",
  maxConnectionsPerClient: "A3S_MAX_CONNECTIONS_PER_CLIENT",
  headerTimeoutMs: "A3S_HEADER_TIMEOUT_MS",
  idleTimeoutMs: "A3S_IDLE_TIMEOUT_MS",
  requestTimeoutMs: "A3S_REQUEST_TIMEOUT_MS",
} as const satisfies Record<keyof SecurityConfig, string>;

const LIST_KEYS = new Set(["allowedHosts", "origins", "trustedProxies"]);
const NUMBER_KEYS = new Set([
  "requestsPerMinute",
  "requestBurst",
  "maxConcurrentRequests",
  "maxHeaderBytes",
  "maxConnectionsPerClient",
  "headerTimeoutMs",
  "idleTimeoutMs",
  "requestTimeoutMs",
]);

/**
 * `A3S_TOKENS` holds comma-separated entries, each `SECRET` (an admin token) or
 * `SECRET=scope+scope` (for example `s3cret-value-0123=power:read+power:write`).
 */
function parseEnvTokens(raw: string): unknown[] {
  return raw.split(",").map((entry) => entry.trim()).filter(Boolean).map((entry) => {
    const at = entry.indexOf("=");
    if (at < 0) return { token: entry };
    return { token: entry.slice(0, at), scopes: entry.slice(at + 1).split("+").filter(Boolean) };
  });
}

function fromEnvValue(key: string, raw: string): unknown {
  if (key === "tokens") return parseEnvTokens(raw);
  if (LIST_KEYS.has(key)) return raw.split(",").map((v) => v.trim()).filter(Boolean);
  if (NUMBER_KEYS.has(key)) return /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (key === "insecureNoAuthOnPublicBind") {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
  }
  return raw;
}

/**
 * Reads the `security` section of the loaded server config, with `A3S_*` variables
 * (and `overrides`, from flags) taking precedence. A bad value throws a one-line
 * {@linkcode UsageError} naming the key and where it came from; token values are never
 * echoed.
 *
 * @example
 * ```ts
 * import { loadSecurityConfig } from "@a3s/common";
 * const security = loadSecurityConfig({}, { env: { A3S_ORIGINS: "https://app.example.org" } });
 * console.log(security.origins); // ["https://app.example.org"]
 * ```
 */
export function loadSecurityConfig(
  server: Record<string, unknown>,
  options: { env?: Record<string, string | undefined>; overrides?: Partial<SecurityConfig> } = {},
): SecurityConfig {
  const env = options.env ?? Deno.env.toObject();
  const section = server.security;
  if (
    section !== undefined && (typeof section !== "object" || section === null ||
      Array.isArray(section))
  ) {
    throw new UsageError("config security: must be an object (from config file)");
  }
  const merged: Record<string, unknown> = { ...(section as Record<string, unknown> | undefined) };
  const origin: Record<string, string> = {};
  for (const [key, name] of Object.entries(SECURITY_ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") continue;
    merged[key] = fromEnvValue(key, raw);
    origin[key] = `env ${name}`;
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    merged[key] = value;
    origin[key] = `flag --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  }
  const result = SecurityConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const where = origin[key] ?? "config file";
    // A token's value never appears in the message: only its position.
    throw new UsageError(
      `config security.${issue.path.join(".")}: ${issue.message} (from ${where})`,
    );
  }
  return result.data;
}
