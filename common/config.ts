/**
 * Server configuration: flag > env (`A3S_*`) > file > default, validated by one zod schema.
 */
import { z } from "zod";
import { join } from "node:path";
import { homedir } from "node:os";
import { UsageError } from "./errors.ts";
import type { A3sModule } from "./module.ts";

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
  /** The address to bind. */
  host: string;
  /** The port to bind; 0 picks a free one. */
  port: number;
  /** The data dir every module keeps its state in. */
  home: string;
  /** A PostgreSQL URL; embedded SQLite in `home` when unset. */
  databaseUrl?: string;
  /** The largest accepted request body, in bytes. */
  bodyLimit: number;
  /** The lowest level logged. */
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** How long shutdown waits for in-flight requests, in ms. */
  shutdownTimeoutMs: number;
  /** An OTLP/HTTP endpoint to export traces to. */
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
  /**
   * The modules whose sections to validate, each with its `configSchema`. A section's keys
   * also come from the environment as `A3S_<MODULE>_<KEY>` (`A3S_LANE_MAX_ATTEMPTS`).
   */
  modules?: readonly ModuleConfigSpec[];
}

/** The part of a module that {@linkcode loadConfig} needs to validate its section. */
export type ModuleConfigSpec = Pick<A3sModule, "name" | "configSchema">;

/** Which sections of a loaded config were already validated, so no schema runs twice. */
const validatedSections = new WeakMap<Config, Set<string>>();

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
  const config: Config = { ...result.data, home: result.data.home ?? defaultHome(env) };
  const validated = new Set<string>();
  for (const module of sources.modules ?? []) {
    if (!module.configSchema) continue;
    const fileSection = fromFile[module.name];
    const sectionSources = {
      file: isPlainObject(fileSection) ? fileSection : {},
      env: sectionFromEnv(module, env),
      flags: isPlainObject(flags[module.name]) ? flags[module.name] as Record<string, unknown> : {},
    };
    const raw = fileSection !== undefined && !isPlainObject(fileSection)
      ? fileSection
      : { ...sectionSources.file, ...sectionSources.env, ...sectionSources.flags };
    config[module.name] = parseSection(module, raw, (key) => {
      if (key in sectionSources.flags) return `flag --${module.name}`;
      if (key in sectionSources.env) return `env ${sectionEnvName(module.name, key)}`;
      if (key in sectionSources.file || key === "") return `config file ${filePath}`;
      return "default";
    });
    validated.add(module.name);
  }
  validatedSections.set(config, validated);
  return config;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `maxAttempts` of `lane` is `A3S_LANE_MAX_ATTEMPTS`. */
function sectionEnvName(module: string, key: string): string {
  const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/\W/g, "_");
  return `A3S_${snake(module).toUpperCase()}_${snake(key).toUpperCase()}`;
}

/** The section's top-level keys set in the environment; JSON values (numbers, booleans) parse. */
function sectionFromEnv(
  module: ModuleConfigSpec,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const schema = module.configSchema;
  if (!(schema instanceof z.ZodObject)) return {};
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const raw = env[sectionEnvName(module.name, key)];
    if (raw === undefined || raw === "") continue;
    try {
      values[key] = JSON.parse(raw);
    } catch {
      values[key] = raw;
    }
  }
  return values;
}

function parseSection(
  module: ModuleConfigSpec,
  raw: unknown,
  origin: (key: string) => string,
): unknown {
  const result = module.configSchema!.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // An unknown key is reported at the section; name the key itself, as for a bad value.
  const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path;
  const key = [module.name, ...path.map(String)].join(".");
  throw new UsageError(`config ${key}: ${issue.message} (from ${origin(String(path[0] ?? ""))})`);
}

/**
 * A module's config section, validated by its schema with defaults applied. Sections that
 * {@linkcode loadConfig} validated already are returned as they are.
 *
 * @example
 * ```ts
 * import { loadConfig, moduleSection } from "@a3s/common";
 * import { z } from "zod";
 * const module = { name: "hello", configSchema: z.object({ n: z.number().default(1) }) };
 * console.log(moduleSection(loadConfig({ env: {} }), module)); // { n: 1 }
 * ```
 */
export function moduleSection(config: Config, module: ModuleConfigSpec): unknown {
  const raw = config[module.name];
  if (!module.configSchema || validatedSections.get(config)?.has(module.name)) return raw ?? {};
  return parseSection(module, raw, () => "config");
}
