/**
 * JSON Schema compiled into the small node tree the constrained decoder walks. Keywords it
 * enforces: type, properties, required, additionalProperties, items, minItems, maxItems,
 * enum, const, anyOf, oneOf, allOf (objects), $ref to local definitions, minLength, maxLength.
 */
import { ValidationError } from "@a3s/common";

/** A compiled schema node. Literal and key strings are UTF-8 bytes held one per char. */
export type SchemaNode =
  | { kind: "any" }
  | {
    kind: "object";
    /** Declared properties in order; undefined means any keys with any values. */
    properties?: [string, SchemaNode][];
    required: string[];
    /** Keys must appear in declaration order (used for tool calls). */
    ordered: boolean;
  }
  | { kind: "array"; items: SchemaNode; minItems: number; maxItems: number }
  | { kind: "string"; minLength: number; maxLength: number }
  | { kind: "number"; integer: boolean }
  | { kind: "literal"; values: string[] }
  | { kind: "union"; options: SchemaNode[] };

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`, one char per byte, so byte-wise prefix checks are plain string ops. */
export function byteString(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) out += String.fromCharCode(b);
  return out;
}

/** Any JSON value. */
export const ANY: SchemaNode = { kind: "any" };
/** Any JSON object: what JSON mode asks for. */
export const ANY_OBJECT: SchemaNode = { kind: "object", required: [], ordered: false };

type Schema = Record<string, unknown>;

function literal(values: unknown[]): SchemaNode {
  return { kind: "literal", values: values.map((v) => byteString(JSON.stringify(v))) };
}

function resolveRef(ref: string, root: Schema, field: string): Schema {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = match ? (root[match[1]] as Record<string, Schema> | undefined) : undefined;
  const target = match && defs ? defs[decodeURIComponent(match[2])] : undefined;
  if (!target) throw new ValidationError(`${field}: cannot resolve $ref '${ref}'`, field);
  return target;
}

/** Most nodes (and enum values) one schema may compile to; each costs work on every byte. */
export const MAX_SCHEMA_NODES = 10_000;
/** Deepest nesting compiled; below it any value is allowed. */
const MAX_SCHEMA_DEPTH = 12;

/** What is left of a schema's node allowance while it compiles. */
interface Budget {
  left: number;
  /** The field the whole schema came from, named when it runs out. */
  field: string;
}

function spend(budget: Budget, count: number): void {
  budget.left -= count;
  if (budget.left < 0) {
    throw new ValidationError(
      `${budget.field}: the schema is too large (more than ${MAX_SCHEMA_NODES} nodes and enum values)`,
      budget.field,
    );
  }
}

function compileNode(
  schema: unknown,
  root: Schema,
  field: string,
  depth: number,
  budget: Budget,
): SchemaNode {
  if (schema === true || schema === undefined || depth > MAX_SCHEMA_DEPTH) return ANY;
  spend(budget, 1);
  if (schema === false || typeof schema !== "object" || schema === null) {
    throw new ValidationError(`${field}: a schema must be an object`, field);
  }
  const s = schema as Schema;
  if (typeof s.$ref === "string") {
    return compileNode(resolveRef(s.$ref, root, field), root, field, depth + 1, budget);
  }
  if ("const" in s) return literal([s.const]);
  if (Array.isArray(s.enum)) {
    if (!s.enum.length) throw new ValidationError(`${field}: enum is empty`, field);
    spend(budget, s.enum.length);
    return literal(s.enum);
  }
  const alternatives = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives)) {
    return {
      kind: "union",
      options: alternatives.map((a, i) =>
        compileNode(a, root, `${field}.anyOf.${i}`, depth + 1, budget)
      ),
    };
  }
  if (Array.isArray(s.allOf)) {
    const merged: Schema = { ...s, allOf: undefined, properties: {}, required: [] };
    for (const part of s.allOf as Schema[]) {
      const p = typeof part.$ref === "string" ? resolveRef(part.$ref, root, field) : part;
      Object.assign(merged.properties as Schema, p.properties ?? {});
      (merged.required as string[]).push(...((p.required as string[]) ?? []));
      merged.type ??= p.type;
    }
    Object.assign(merged.properties as Schema, s.properties ?? {});
    (merged.required as string[]).push(...((s.required as string[]) ?? []));
    return compileNode(merged, root, field, depth + 1, budget);
  }
  let type = s.type;
  if (Array.isArray(type)) {
    return {
      kind: "union",
      options: type.map((t) => compileNode({ ...s, type: t }, root, field, depth + 1, budget)),
    };
  }
  if (type === undefined) {
    if (s.properties) type = "object";
    else if (s.items) type = "array";
    else return ANY;
  }
  switch (type) {
    case "object": {
      const props = s.properties as Record<string, unknown> | undefined;
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      if (!props || !Object.keys(props).length) {
        if (required.length) {
          return {
            kind: "object",
            properties: required.map((r) => [r, ANY]),
            required,
            ordered: false,
          };
        }
        return { kind: "object", required: [], ordered: false };
      }
      const properties = Object.entries(props).map(([name, sub]): [string, SchemaNode] => [
        name,
        compileNode(sub, root, `${field}.properties.${name}`, depth + 1, budget),
      ]);
      for (const r of required) {
        if (!(r in props)) properties.push([r, ANY]);
      }
      return { kind: "object", properties, required, ordered: false };
    }
    case "array":
      return {
        kind: "array",
        items: compileNode(s.items, root, `${field}.items`, depth + 1, budget),
        minItems: typeof s.minItems === "number" ? s.minItems : 0,
        maxItems: typeof s.maxItems === "number" ? s.maxItems : Infinity,
      };
    case "string":
      return {
        kind: "string",
        minLength: typeof s.minLength === "number" ? s.minLength : 0,
        maxLength: typeof s.maxLength === "number" ? s.maxLength : Infinity,
      };
    case "number":
    case "integer":
      return { kind: "number", integer: type === "integer" };
    case "boolean":
      return literal([true, false]);
    case "null":
      return literal([null]);
    default:
      throw new ValidationError(`${field}: unsupported type '${String(type)}'`, field);
  }
}

/**
 * Compiles a JSON Schema for constrained decoding; `field` names it in validation errors.
 *
 * @example
 * ```ts
 * const node = compileSchema({ type: "object", properties: { a: { type: "string" } } });
 * ```
 */
export function compileSchema(schema: unknown, field = "schema"): SchemaNode {
  const root = (typeof schema === "object" && schema !== null ? schema : {}) as Schema;
  return compileNode(schema, root, field, 0, { left: MAX_SCHEMA_NODES, field });
}

/** The schema of one tool call: `{"name": <tool>, "arguments": <its parameters>}`. */
export function toolCallSchema(
  tools: readonly { name: string; parameters?: unknown }[],
): SchemaNode {
  return {
    kind: "union",
    options: tools.map((tool, i) => ({
      kind: "object",
      properties: [
        ["name", literal([tool.name])],
        [
          "arguments",
          tool.parameters
            ? compileSchema(tool.parameters, `tools.${i}.function.parameters`)
            : ANY_OBJECT,
        ],
      ],
      required: ["name", "arguments"],
      ordered: true,
    })),
  };
}
