/** The compiled form of a JSON Schema: the small node tree the constrained decoder walks. */

/** A compiled schema node. Literal and key strings are UTF-8 bytes held one per char. */
export type SchemaNode =
  | { kind: "any" }
  | {
    kind: "object";
    /** Declared properties in order; undefined means any keys. */
    properties?: [string, SchemaNode][];
    required: string[];
    /** Keys must appear in declaration order (used for tool calls). */
    ordered: boolean;
    /** The value of every key of an object without declared properties; any value when unset. */
    additional?: SchemaNode;
  }
  | { kind: "array"; items: SchemaNode; minItems: number; maxItems: number }
  | { kind: "string"; minLength: number; maxLength: number }
  | { kind: "number"; integer: boolean }
  | { kind: "literal"; values: string[] }
  | { kind: "union"; options: SchemaNode[] };

/** Where in a schema something is: the keys and indexes from its root. */
export type SchemaPath = (string | number)[];

/** A schema that cannot be compiled: where in it, and why. */
export class SchemaError extends Error {
  /** The place in the schema at fault, from its root. */
  readonly path: SchemaPath;

  /** `reason` says what is wrong at `path`. */
  constructor(path: SchemaPath, reason: string) {
    super(reason);
    this.name = "SchemaError";
    this.path = path;
  }
}

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

/** A node that allows exactly `values`, each written as JSON. */
export function literal(values: unknown[]): SchemaNode {
  return { kind: "literal", values: values.map((v) => byteString(JSON.stringify(v))) };
}
