/**
 * Server configuration: flag > env (`A3S_*`) > file > default, validated by one zod schema.
 */
import { z } from "zod";
import { join } from "node:path";
import { homedir } from "node:os";
import { UsageError } from "./errors.ts";

/** Unknown top-level keys are kept for modules to read. */
const ConfigSchema = z.looseObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(11434),
  home: z.string().min(1).optional(),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres://").optional(),
  bodyLimit: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  shutdownTimeoutMs: z.coerce.number().int().positive().default(10_000),
  otlpEndpoint: z.string().url().optional(),
});

/** The validated configuration after defaults; `home` is always resolved. */
export interface Config {
  host: string;
  port: number;
  /** The data dir every module keeps its state in. */
  home: string;
  databaseUrl?: string;
  bodyLimit: number;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  shutdownTimeoutMs: number;
  otlpEndpoint?: string;
  /** Module sections from the config file, such as `power` or `lane`. */
  [section: string]: unknown;
}

/** Where each key comes from in the environment. */
export const ENV_KEYS: Record<string, string> = {
  host: "A3S_HOST",
  port: "A3S_PORT",
  home: "A3S_HOME",
  databaseUrl: "A3S_DATABASE_URL",
  bodyLimit: "A3S_BODY_LIMIT",
  logLevel: "A3S_LOG_LEVEL",
  shutdownTimeoutMs: "A3S_SHUTDOWN_TIMEOUT_MS",
  otlpEndpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
};

/** Inputs to {@linkcode loadConfig}; every field is optional. */
export interface ConfigSources {
  /** Values from command-line flags, already parsed. Undefined values are ignored. */
  flags?: Record<string, unknown>;
  /** The environment; defaults to `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
  /** A JSON config file; defaults to `$A3S_CONFIG`, then `<home>/config.json` when it exists. */
  file?: string;
}

/** The data dir: `$A3S_HOME`, else `~/.a3s`. */
export function defaultHome(env: Record<string, string | undefined> = Deno.env.toObject()): string {
  return env.A3S_HOME || join(env.HOME || homedir(), ".a3s");
}

function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ""));
}

function readConfigFile(path: string, required: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (!required && error instanceof Deno.errors.NotFound) return {};
    throw new UsageError(`config file ${path}: cannot be read (${(error as Error).message})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("top level must be an object");
    }
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`config file ${path}: invalid JSON (${(error as Error).message})`);
  }
}

/**
 * Loads and validates the configuration. A bad value throws a {@linkcode UsageError} whose
 * one-line message names the key and where it came from.
 *
 * @example
 * ```ts
 * import { loadConfig } from "@a3s/common";
 * const config = loadConfig({ flags: { port: 8080 }, env: {} });
 * console.log(config.port); // 8080
 * ```
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? Deno.env.toObject();
  const fromEnv: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_KEYS)) fromEnv[key] = env[name];
  const flags = definedOnly(sources.flags ?? {});
  const home = (flags.home as string | undefined) ?? env.A3S_HOME ?? undefined;
  const explicitFile = sources.file ?? (flags.config as string | undefined) ?? env.A3S_CONFIG;
  const filePath = explicitFile ?? join(home || defaultHome(env), "config.json");
  const fromFile = readConfigFile(filePath, explicitFile !== undefined);
  delete flags.config;

  const origin = (key: string): string => {
    if (key in flags) return `flag --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (definedOnly(fromEnv)[key] !== undefined) return `env ${ENV_KEYS[key]}`;
    if (key in fromFile) return `config file ${filePath}`;
    return "default";
  };
  const merged = { ...fromFile, ...definedOnly(fromEnv), ...flags };
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path.join(".") || "(root)";
    throw new UsageError(`config ${key}: ${issue.message} (from ${origin(String(issue.path[0]))})`);
  }
  return { ...result.data, home: result.data.home ?? defaultHome(env) };
}
