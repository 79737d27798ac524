/**
 * JSON Schema for constrained decoding. Keywords enforced: type, properties, required,
 * additionalProperties, items, minItems, maxItems, enum, const, anyOf, oneOf (read as anyOf),
 * allOf (objects), local $ref, minLength, maxLength. Structured output compiles strictly and
 * refuses the keywords it cannot enforce; tool parameters compile leniently
 * (see `schema_compiler.ts`).
 */
import { ValidationError } from "@a3s/common";
import { compile } from "./schema_compiler.ts";
import { ANY_OBJECT, literal, SchemaError, type SchemaNode } from "./schema_node.ts";

export { MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES } from "./schema_compiler.ts";
export {
  ANY,
  ANY_OBJECT,
  byteString,
  SchemaError,
  type SchemaNode,
  type SchemaPath,
} from "./schema_node.ts";

/** How a schema is compiled. */
export interface CompileOptions {
  /** Refuse keywords that are not enforced, and recursive $refs (the default). */
  strict?: boolean;
}

/**
 * What keeps `schema` from compiling, or undefined when it compiles: request validation asks
 * this, so a bad schema is a 400 naming its keyword before any model loads.
 *
 * @example
 * ```ts
 * const problem = schemaProblem({ type: "string", pattern: "^a" });
 * console.log(problem?.path, problem?.message); // ["pattern"] keyword "pattern" is not supported
 * ```
 */
export function schemaProblem(
  schema: unknown,
  options: CompileOptions = {},
): SchemaError | undefined {
  try {
    compile(schema, options.strict ?? true);
    return undefined;
  } catch (error) {
    if (error instanceof SchemaError) return error;
    throw error;
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
export function compileSchema(
  schema: unknown,
  field = "schema",
  options: CompileOptions = {},
): SchemaNode {
  try {
    return compile(schema, options.strict ?? true);
  } catch (error) {
    if (!(error instanceof SchemaError)) throw error;
    const at = [field, ...error.path].join(".");
    throw new ValidationError(`${at}: ${error.message}`, at);
  }
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
            ? compileSchema(tool.parameters, `tools.${i}.function.parameters`, { strict: false })
            : ANY_OBJECT,
        ],
      ],
      required: ["name", "arguments"],
      ordered: true,
    })),
  };
}
