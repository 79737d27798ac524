/**
 * The request fields that carry arbitrary JSON (schemas, tool arguments, unknown extras), as
 * zod schemas that bound them. Chat templates and the schema compiler recurse through such
 * values, so nesting is capped where the request is validated, and a schema that constrained
 * decoding cannot honour is refused there, naming its keyword.
 */
import { z } from "@hono/zod-openapi";
import { schemaProblem } from "../engine/json_schema.ts";

/** Most levels of objects and arrays one JSON field may nest (as safeclaw allows). */
export const MAX_JSON_DEPTH = 64;

const TOO_DEEP =
  `nested more than ${MAX_JSON_DEPTH} levels deep; flatten it to at most ${MAX_JSON_DEPTH} levels of objects and arrays`;
const DEPTH_NOTE = `at most ${MAX_JSON_DEPTH} levels of objects and arrays deep`;

/** A validation problem inside a field: where below it, and what is wrong. */
interface Issue {
  path: (string | number)[];
  message: string;
}

/** Whether `value` nests objects and arrays more than `limit` levels; any depth is safe to ask. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  // A stack of its own, not recursion: the nesting it measures may be any depth.
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

function depthIssue(value: unknown): Issue | undefined {
  return nestedDeeperThan(value, MAX_JSON_DEPTH) ? { path: [], message: TOO_DEEP } : undefined;
}

/**
 * What is wrong with a JSON Schema field: too deep, or (strict) a keyword decoding cannot
 * enforce, or anything that keeps it from compiling. Undefined when it is fine.
 */
function schemaIssue(schema: unknown, strict: boolean): Issue | undefined {
  const deep = depthIssue(schema);
  if (deep) return deep;
  const problem = schemaProblem(schema, { strict });
  return problem && { path: problem.path, message: problem.message };
}

/** Adds `issue` (if any) to a refinement, at `at` below the refined value. */
function report(
  ctx: { addIssue(issue: z.core.$ZodSuperRefineIssue): void },
  issue: Issue | undefined,
  at: (string | number)[] = [],
): void {
  if (issue) ctx.addIssue({ code: "custom", message: issue.message, path: [...at, ...issue.path] });
}

/** Any JSON value, bounded in depth: the extra fields of requests that accept unknown keys. */
export const JsonValue = z.unknown().superRefine((value, ctx) => report(ctx, depthIssue(value)))
  .describe(`Any JSON, ${DEPTH_NOTE}`);

/** A JSON object of any content (tool-call arguments), bounded in depth. */
export const JsonObject = z.record(z.string(), z.unknown())
  .superRefine((value, ctx) => report(ctx, depthIssue(value)))
  .describe(`A JSON object, ${DEPTH_NOTE}`);

/** A JSON Schema for structured output: bounded, and each of its keywords enforced. */
export const OutputSchema = z.record(z.string(), z.unknown())
  .superRefine((value, ctx) => report(ctx, schemaIssue(value, true)))
  .describe(
    `A JSON Schema, ${DEPTH_NOTE}. Enforced: type, properties, required, additionalProperties, ` +
      "items, minItems, maxItems, enum, const, anyOf, oneOf, allOf (objects), local $ref (not " +
      "recursive), minLength, maxLength; annotations pass; other keywords are refused",
  );

/** Tool-call arguments sent as a JSON text (OpenAI's shape): valid JSON, bounded in depth. */
export const JsonText = z.string().superRefine((text, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "not valid JSON" });
    return;
  }
  report(ctx, depthIssue(value));
}).describe(`A JSON text, ${DEPTH_NOTE}`);

/**
 * A tool's parameters: a JSON Schema, checked by {@linkcode checkToolParameters} on the tool's
 * function, which knows whether the tool asks for strict adherence.
 */
export const ToolParameters = z.record(z.string(), z.unknown()).describe(
  `A JSON Schema, ${DEPTH_NOTE}. Keywords the decoder cannot enforce pass unenforced, unless ` +
    "the function sets `strict: true` (OpenAI)",
);

/**
 * The schema of OpenAI's `response_format.json_schema`: checked by
 * {@linkcode checkResponseSchema} on its object, which knows whether it asks for strict adherence.
 */
export const ResponseSchema = z.record(z.string(), z.unknown()).describe(
  `A JSON Schema, ${DEPTH_NOTE}. Enforced: type, properties, required, additionalProperties, ` +
    "items, minItems, maxItems, enum, const, anyOf, oneOf, allOf (objects), local $ref (not " +
    "recursive), minLength, maxLength; annotations pass; other keywords are refused, unless " +
    "`strict` is false (then they pass unenforced, as OpenAI's non-strict mode does not promise them)",
);

/**
 * Checks `response_format.json_schema.schema`: keywords decoding cannot enforce are refused,
 * unless the caller set `strict: false` and so asked for no guarantee.
 */
export function checkResponseSchema(
  format: { schema?: Record<string, unknown>; strict?: boolean | null },
  ctx: { addIssue(issue: z.core.$ZodSuperRefineIssue): void },
): void {
  if (format.schema) report(ctx, schemaIssue(format.schema, format.strict !== false), ["schema"]);
}

/**
 * Checks a tool's `parameters` schema, `strict` saying whether keywords that decoding cannot
 * enforce are refused (OpenAI's `strict: true`) or pass unenforced.
 */
export function checkToolParameters(
  fn: { parameters?: Record<string, unknown>; strict?: boolean | null },
  ctx: { addIssue(issue: z.core.$ZodSuperRefineIssue): void },
): void {
  if (fn.parameters) report(ctx, schemaIssue(fn.parameters, fn.strict === true), ["parameters"]);
}
