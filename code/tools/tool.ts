/** The shape of a tool: a zod input schema (JSON Schema for the model), a timeout, a runner. */
import { z } from "zod";
import type { CommandSandbox } from "../runtime/sandbox.ts";
import type { Workspace } from "../runtime/workspace.ts";
import type { ToolServices } from "./services.ts";

/** What a tool does, for presets: `strict` asks before anything but `read`. */
export type ToolEffect = "read" | "write" | "exec" | "network" | "agent";

/** What a running tool gets. */
export interface ToolContext {
  /** The folder the tool is confined to; resolve every path through it. */
  workspace: Workspace;
  /** Where the tool runs commands. */
  sandbox: CommandSandbox;
  /** Aborted on timeout or when the session is cancelled. */
  signal: AbortSignal;
  /** The id of the model's tool call being run. */
  callId: string;
  /** Session services: the plan, skills, memory, search, subagents. */
  services: ToolServices;
}

/** A tool as the agent holds it, its input type erased behind validation. */
export interface Tool {
  /** The name the model calls the tool by. */
  readonly name: string;
  /** What the tool does and when to use it, for the model. */
  readonly description: string;
  /** What the tool does to the world, for permission presets. */
  readonly effect: ToolEffect;
  /**
   * What this call does, when it depends on the input (`memory` only reads when it searches or
   * lists); {@linkcode Tool.effect}, the strictest, when unset.
   */
  effectOf?(input: Record<string, unknown>): ToolEffect;
  /** JSON Schema of the input, sent to the model. */
  readonly parameters: Record<string, unknown>;
  /** How long one call may run, in milliseconds; the agent's `tools.timeout_ms` when unset. */
  readonly timeoutMs?: number;
  /** Checks raw model arguments, naming the bad field in the error. */
  validate(
    raw: unknown,
  ): { ok: true; input: Record<string, unknown> } | { ok: false; error: string };
  /** What `tool(pattern)` rules match: the command of `bash`, the path of file tools. */
  subject(input: Record<string, unknown>): string | undefined;
  /**
   * Every subject a call touches, when it touches more than one (each file a `patch` changes,
   * creates or deletes): a call is allowed only when the rules allow each of them. Unset: the
   * one {@linkcode Tool.subject}.
   */
  subjects?(input: Record<string, unknown>): string[];
  /** Runs the tool on validated input; the returned text is what the model reads. Throw {@linkcode ToolError} for failures the model should see. */
  run(input: Record<string, unknown>, ctx: ToolContext): Promise<string>;
}

/** A tool failure the model should read (bad path, no match...), not a crash. */
export class ToolError extends Error {
  /** A failure the model reads as `message`. */
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

/** Converts a zod schema to the compact JSON Schema models see. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}

/** What {@linkcode defineTool} takes: a tool whose input is typed by its zod schema `S`. */
export interface ToolSpecOf<S extends z.ZodType> {
  /** The name the model calls the tool by. */
  name: string;
  /** What the tool does and when to use it, for the model. */
  description: string;
  /** What the tool does to the world, for permission presets. */
  effect: ToolEffect;
  /** What a call with this input does, when it depends on the input (see {@linkcode Tool.effectOf}). */
  effectOf?(input: z.output<S>): ToolEffect;
  /** The input schema: validates the model's arguments and becomes the JSON Schema it sees. */
  input: S;
  /** How long one call may run, in milliseconds; the agent's `tools.timeout_ms` when unset. */
  timeoutMs?: number;
  /** What `tool(pattern)` rules match for this input (a path, a command); none when unset. */
  subject?(input: z.output<S>): string | undefined;
  /** Every subject the input touches, when there may be several (see {@linkcode Tool.subjects}). */
  subjects?(input: z.output<S>): string[];
  /** Runs the tool on validated input; the returned text is what the model reads. */
  run(input: z.output<S>, ctx: ToolContext): Promise<string>;
}

/**
 * Defines a tool from a zod schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineTool } from "./tool.ts";
 * const echo = defineTool({
 *   name: "echo",
 *   description: "Repeat text",
 *   effect: "read",
 *   input: z.object({ text: z.string() }),
 *   run: (input) => Promise.resolve(input.text),
 * });
 * ```
 */
export function defineTool<S extends z.ZodType>(spec: ToolSpecOf<S>): Tool {
  return {
    name: spec.name,
    description: spec.description,
    effect: spec.effect,
    parameters: jsonSchemaOf(spec.input),
    timeoutMs: spec.timeoutMs,
    validate(raw) {
      const parsed = spec.input.safeParse(raw);
      if (parsed.success) return { ok: true, input: parsed.data as Record<string, unknown> };
      const issue = parsed.error.issues[0];
      const field = issue.path.map(String).join(".") || "input";
      return { ok: false, error: `invalid arguments for ${spec.name}: ${field}: ${issue.message}` };
    },
    subject: (input) => spec.subject?.(input as z.output<S>),
    ...(spec.effectOf
      ? { effectOf: (input: Record<string, unknown>) => spec.effectOf!(input as z.output<S>) }
      : {}),
    ...(spec.subjects
      ? { subjects: (input: Record<string, unknown>) => spec.subjects!(input as z.output<S>) }
      : {}),
    run: (input, ctx) => spec.run(input as z.output<S>, ctx),
  };
}
