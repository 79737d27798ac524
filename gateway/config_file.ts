/**
 * Reads a gateway config from YAML or JSON text and validates it, so that an error names the
 * file, the key path and the line (YAML is a superset of JSON, so one parser serves both and
 * keeps each node's source position).
 */
import { isNode, LineCounter, parseDocument } from "yaml";
import { type GatewayConfig, GatewayConfigSchema } from "./config.ts";

/** A config that failed to parse or validate; `message` reads `file:line: key: what`. */
export class GatewayConfigError extends Error {
  /** The file (or source label) the config came from. */
  readonly file: string;
  /** The dotted key path of the first problem; empty for a syntax error. */
  readonly key: string;
  /** The 1-based line of the problem, when known. */
  readonly line?: number;
  /** What is wrong, without the location. */
  readonly problem: string;

  /** Builds the error and its one-line message. */
  constructor(file: string, key: string, line: number | undefined, problem: string) {
    super(`${file}${line ? `:${line}` : ""}: ${key ? `${key}: ` : ""}${problem}`);
    this.name = "GatewayConfigError";
    this.file = file;
    this.key = key;
    this.line = line;
    this.problem = problem;
  }
}

/**
 * Parses and validates `text`; `file` labels errors.
 *
 * @example
 * ```ts
 * import { parseGatewayConfig } from "@a3s/gateway";
 * const config = parseGatewayConfig("routers: {}\nservices: {}\n", "gateway.yaml");
 * console.log(Object.keys(config.routers).length); // 0
 * ```
 */
export function parseGatewayConfig(text: string, file = "<config>"): GatewayConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = lines.linePos(syntax.pos[0]).line;
    throw new GatewayConfigError(file, "", line, syntax.message.split("\n")[0]);
  }
  const parsed = GatewayConfigSchema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  // The deepest node that exists: a missing key is reported at its parent's line.
  let line: number | undefined;
  for (let depth = path.length; depth >= 0 && line === undefined; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
  }
  // Unrecognized keys name the key itself, so the path points at it.
  const extra = issue.code === "unrecognized_keys" ? (issue.keys ?? []) : [];
  const key = [...path, ...extra.slice(0, 1)].join(".");
  if (extra.length) {
    const parent = path.length ? doc.getIn(path, true) : doc.contents;
    if (isNode(parent) && "items" in parent && Array.isArray(parent.items)) {
      for (const pair of parent.items as { key?: unknown }[]) {
        const k = pair.key;
        if (isNode(k) && k.range && (k as { value?: unknown }).value === extra[0]) {
          line = lines.linePos(k.range[0]).line;
        }
      }
    }
  }
  throw new GatewayConfigError(file, key, line, issue.message);
}

/**
 * Reads and validates a config file; `.json`, `.yaml` and `.yml` are all read the same way.
 *
 * @example
 * ```ts
 * import { loadGatewayConfigFile } from "@a3s/gateway";
 * const file = await Deno.makeTempFile({ suffix: ".yaml" });
 * await Deno.writeTextFile(file, "routers: {}\n");
 * console.log((await loadGatewayConfigFile(file)).routers); // {}
 * ```
 */
export async function loadGatewayConfigFile(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new GatewayConfigError(file, "", undefined, (error as Error).message);
  }
  return parseGatewayConfig(text, file);
}
