/** Loading `agent.hcl` (or JSON): parse, validate, and report errors by file, line and key. */
import { dirname, isAbsolute, resolve } from "node:path";
import { A3sError } from "@a3s/common/errors";
import { HclSyntaxError, lineOf, parseHcl } from "./hcl.ts";
import { type AgentConfig, AgentConfigSchema, REPEATED_BLOCKS } from "./schema.ts";

/** A config that does not parse or validate. The message reads `file:line: key: why`. */
export class ConfigError extends A3sError {
  /** An error at `key` (dotted path) of `file`, at `line` when known, with the reason it is invalid. */
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string,
    reason: string,
  ) {
    super(
      "invalid_config",
      `${file}${line !== undefined ? `:${line}` : ""}: ${key ? `${key}: ` : ""}${reason}`,
      { status: 400, field: key || undefined },
    );
    this.name = "ConfigError";
  }
}

/** A loaded config and the folder its relative paths resolve against. */
export interface LoadedConfig {
  /** The validated config, defaults applied. */
  config: AgentConfig;
  /** The config file's folder (or the working directory for in-memory configs). */
  baseDir: string;
  /** Where it came from, for messages. */
  source: string;
}

interface IssueLike {
  path: PropertyKey[];
  message: string;
}

/** Validates a plain object, mapping the first issue to a {@linkcode ConfigError}. */
export function validateConfig(
  value: unknown,
  source = "<config>",
  lines: Map<string, number> = new Map(),
): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as IssueLike;
  const key = issue.path.map(String).join(".");
  throw new ConfigError(source, lineOf(lines, key), key, issue.message);
}

/**
 * Parses config text: HCL, or JSON when it starts with `{`.
 *
 * @example
 * ```ts
 * import { parseAgentConfig } from "./load.ts";
 * const config = parseAgentConfig('default_model = "power/a3s-default"\n', "agent.hcl");
 * console.log(config.max_steps);
 * ```
 */
export function parseAgentConfig(
  text: string,
  source: string = "<config>",
  baseDir: string = Deno.cwd(),
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): AgentConfig {
  if (text.trimStart().startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(source, undefined, "", (error as Error).message);
    }
    return validateConfig(json, source);
  }
  try {
    const doc = parseHcl(text, {
      file: source,
      env,
      repeatedBlocks: REPEATED_BLOCKS,
      readFile: (path) => Deno.readTextFileSync(isAbsolute(path) ? path : resolve(baseDir, path)),
    });
    return validateConfig(doc.value, source, doc.lines);
  } catch (error) {
    if (error instanceof HclSyntaxError) {
      throw new ConfigError(error.file, error.line, "", error.message.replace(/^[^:]*:\d+: /, ""));
    }
    throw error;
  }
}

/** Reads and validates a config file. */
export async function loadAgentConfig(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ConfigError(path, undefined, "", `cannot read: ${(error as Error).message}`);
  }
  const baseDir = dirname(file);
  return { config: parseAgentConfig(text, path, baseDir), baseDir, source: path };
}
