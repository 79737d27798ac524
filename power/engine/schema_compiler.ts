/**
 * Compiles JSON Schema into {@linkcode SchemaNode}s. A strict compile (structured output)
 * refuses every standard keyword that constrains values but is not enforced, and recursive
 * $refs, naming the keyword's path: a constraint the decoder cannot keep must not be dropped
 * without a word. A lenient compile (tool parameters, which also describe the tool to the
 * model) lets such keywords pass unenforced and follows recursion a few levels.
 */
import { ANY, literal, SchemaError, type SchemaNode, type SchemaPath } from "./schema_node.ts";
import { impliedType, unappliedKeyword } from "./schema_keywords.ts";

/** Most nodes (and enum values) one schema may compile to; each costs work on every byte. */
export const MAX_SCHEMA_NODES = 10_000;
/** Deepest nesting compiled, counting $ref, allOf and type lists as levels. */
export const MAX_SCHEMA_DEPTH = 64;
/** How deep a lenient compile follows a recursive $ref; below it any value is allowed. */
const MAX_RECURSION_DEPTH = 12;

type Schema = Record<string, unknown>;

/** One compile's state. */
interface Compilation {
  root: Schema;
  strict: boolean;
  /** Nodes and enum values left before the schema counts as too large. */
  left: number;
  /** $ref targets being compiled, each with the object and array nesting it was entered at. */
  active: Map<unknown, number>;
}

function fail(path: SchemaPath, reason: string): never {
  throw new SchemaError(path, reason);
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function spend(c: Compilation, count: number): void {
  c.left -= count;
  if (c.left < 0) {
    fail([], `the schema is too large (more than ${MAX_SCHEMA_NODES} nodes and enum values)`);
  }
}

/** In a strict compile, refuses the first keyword of `s` that would constrain but is not applied. */
function checkApplied(
  c: Compilation,
  s: Schema,
  path: SchemaPath,
  applied: readonly string[],
  type?: string,
  where = "",
): void {
  if (!c.strict) return;
  const keyword = unappliedKeyword(s, applied, type);
  if (keyword !== undefined) {
    fail([...path, keyword], `keyword "${keyword}" is not supported${where}`);
  }
}

/** A non-negative integer keyword such as `minLength`, or `fallback` when it is absent. */
function bound(c: Compilation, s: Schema, key: string, path: SchemaPath, fallback: number) {
  const value = s[key];
  if (typeof value === "number" && (!c.strict || (Number.isInteger(value) && value >= 0))) {
    return value;
  }
  if (value !== undefined && c.strict) {
    fail([...path, key], "must be a non-negative integer");
  }
  return fallback;
}

function bounds(c: Compilation, s: Schema, path: SchemaPath, min: string, max: string) {
  const low = bound(c, s, min, path, 0);
  const high = bound(c, s, max, path, Infinity);
  if (c.strict && low > high) fail([...path, min], `${min} ${low} is greater than ${max} ${high}`);
  return [low, high];
}

/** A local reference (`#`, `#/$defs/name`, any JSON pointer into the root schema). */
function resolveRef(
  root: Schema,
  ref: string,
  path: SchemaPath,
): { target: unknown; at: string[] } {
  const refuse = () => fail(path, `cannot resolve $ref '${ref}'`);
  if (ref !== "#" && !ref.startsWith("#/")) refuse();
  const at: string[] = [];
  let target: unknown = root;
  for (const raw of ref === "#" ? [] : ref.slice(2).split("/")) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    } catch {
      return refuse();
    }
    if (typeof target !== "object" || target === null || !Object.hasOwn(target, key)) refuse();
    target = (target as Schema)[key];
    at.push(key);
  }
  return { target, at };
}

function compileRef(c: Compilation, s: Schema, path: SchemaPath, depth: number, nesting: number) {
  checkApplied(c, s, path, ["$ref"], undefined, ' beside "$ref"');
  const ref = s.$ref as string;
  const { target, at } = resolveRef(c.root, ref, [...path, "$ref"]);
  const entered = c.active.get(target);
  if (entered !== undefined) {
    // Without an object or array between, following it would never consume any output.
    if (entered === nesting) {
      fail([...path, "$ref"], `$ref '${ref}' loops back to itself without an object or array`);
    }
    if (c.strict) fail([...path, "$ref"], `recursive $ref '${ref}' is not supported`);
    if (depth > MAX_RECURSION_DEPTH) return ANY;
  }
  c.active.set(target, nesting);
  try {
    return compileNode(c, target, at, depth + 1, nesting);
  } finally {
    if (entered === undefined) c.active.delete(target);
    else c.active.set(target, entered);
  }
}

function isOfType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return isSchema(value);
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      return false;
  }
}

/** `const` or `enum`: the values of the schema's `type`, if it names one. */
function compileLiteral(c: Compilation, s: Schema, keyword: string, path: SchemaPath) {
  const values = keyword === "const" ? [s.const] : s.enum as unknown[];
  checkApplied(c, s, path, [keyword, "type"], undefined, ` beside "${keyword}"`);
  if (!values.length) fail([...path, keyword], `${keyword} is empty`);
  spend(c, values.length);
  const types = s.type === undefined ? undefined : [s.type].flat();
  const kept = types ? values.filter((v) => types.some((t) => isOfType(v, t))) : values;
  if (!kept.length) {
    fail([...path, keyword], `no ${keyword} value is of type ${JSON.stringify(s.type)}`);
  }
  return literal(kept);
}

function compileUnion(
  c: Compilation,
  s: Schema,
  key: "anyOf" | "oneOf",
  path: SchemaPath,
  depth: number,
  nesting: number,
): SchemaNode {
  checkApplied(c, s, path, [key], undefined, ` beside "${key}" (move it into each option)`);
  const options = s[key] as unknown[];
  if (!options.length) fail([...path, key], `${key} is empty`);
  return {
    kind: "union",
    options: options.map((o, i) => compileNode(c, o, [...path, key, i], depth + 1, nesting)),
  };
}

/** A declared property: its name, its schema and where that schema is. */
type Property = [string, unknown, SchemaPath];

function ownProperties(c: Compilation, s: Schema, path: SchemaPath): Property[] {
  if (isSchema(s.properties)) {
    const at = [...path, "properties"];
    return Object.entries(s.properties).map(([name, sub]): Property => [name, sub, [...at, name]]);
  }
  if (s.properties !== undefined && c.strict) fail([...path, "properties"], "must be an object");
  return [];
}

function requiredOf(c: Compilation, s: Schema, path: SchemaPath): string[] {
  const names = s.required === undefined ? [] : s.required;
  const valid = Array.isArray(names) && names.every((n) => typeof n === "string");
  if (valid) return names;
  if (c.strict) fail([...path, "required"], "must be an array of property names");
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
}

/** allOf of objects: the parts' properties and required keys, merged into one object. */
function compileAllOf(c: Compilation, s: Schema, path: SchemaPath, depth: number, nesting: number) {
  const properties = new Map<string, Property>();
  const required: string[] = [];
  let type = s.type;
  const parts: [Schema, SchemaPath][] = [];
  for (const [i, part] of (s.allOf as unknown[]).entries()) {
    let p = part;
    let at: SchemaPath = [...path, "allOf", i];
    if (isSchema(part) && typeof part.$ref === "string") {
      checkApplied(c, part, at, ["$ref"], undefined, ' beside "$ref"');
      ({ target: p, at } = resolveRef(c.root, part.$ref, [...at, "$ref"]));
    }
    if (p === true) continue;
    if (!isSchema(p)) fail(at, "a schema must be an object");
    // A part's own additionalProperties would also refuse the other parts' keys: not merged.
    const merges = ["type", "properties", "required"];
    if (p.additionalProperties === true) merges.push("additionalProperties");
    checkApplied(c, p, at, merges, undefined, " inside allOf");
    parts.push([p, at]);
    type ??= p.type;
  }
  parts.push([{ ...s, allOf: undefined }, path]);
  for (const [p, at] of parts) {
    if (c.strict && p.type !== undefined && p.type !== "object") {
      fail([...at, "type"], "allOf is supported for objects only");
    }
    for (const property of ownProperties(c, p, at)) {
      const [name, sub, where] = property;
      // Both declarations would have to hold; only one is compiled, so they must agree.
      const earlier = properties.get(name);
      if (c.strict && earlier && JSON.stringify(earlier[1]) !== JSON.stringify(sub)) {
        fail(where, `property "${name}" is declared differently in another allOf part`);
      }
      properties.set(name, property);
    }
    required.push(...requiredOf(c, p, at));
  }
  const extra = s.additionalProperties;
  if (c.strict && extra !== undefined && extra !== true && parts.length > 1) {
    fail([...path, "additionalProperties"], "additionalProperties beside allOf is not supported");
  }
  const merged: Schema = { ...s, allOf: undefined, type };
  if (type !== undefined && type !== "object") {
    return compileNode(c, merged, path, depth + 1, nesting);
  }
  return compileObject(c, merged, [...properties.values()], required, path, depth + 1, nesting);
}

function compileObject(
  c: Compilation,
  s: Schema,
  declared: Property[],
  required: string[],
  path: SchemaPath,
  depth: number,
  nesting: number,
): SchemaNode {
  checkApplied(c, s, path, ["type", "properties", "required", "additionalProperties"], "object");
  const extra = s.additionalProperties;
  if (c.strict && extra !== undefined && typeof extra !== "boolean" && !isSchema(extra)) {
    fail([...path, "additionalProperties"], "must be a boolean or a schema");
  }
  const additional = isSchema(extra)
    ? compileNode(c, extra, [...path, "additionalProperties"], depth + 1, nesting + 1)
    : undefined;
  const properties = declared.map(([name, sub, at]): [string, SchemaNode] => [
    name,
    compileNode(c, sub, at, depth + 1, nesting + 1),
  ]);
  const keys = [...new Set(required)];
  const names = new Set(declared.map(([name]) => name));
  for (const name of keys) {
    if (names.has(name)) continue;
    if (c.strict && extra === false) {
      fail([...path, "required"], `"${name}" is required but not among the properties allowed`);
    }
    properties.push([name, additional ?? ANY]);
  }
  // Declared properties (or none allowed at all) close the object: no other key is written.
  if (properties.length || extra === false) {
    return { kind: "object", properties, required: keys, ordered: false };
  }
  return { kind: "object", required: [], ordered: false, ...(additional ? { additional } : {}) };
}

function compileArray(c: Compilation, s: Schema, path: SchemaPath, depth: number, nesting: number) {
  const applied = ["type", "items", "minItems", "maxItems"];
  checkApplied(
    c,
    s,
    path,
    s.uniqueItems === false ? [...applied, "uniqueItems"] : applied,
    "array",
  );
  if (Array.isArray(s.items) && c.strict) {
    fail([...path, "items"], 'keyword "items" as an array (a tuple) is not supported');
  }
  const [minItems, maxItems] = bounds(c, s, path, "minItems", "maxItems");
  return {
    kind: "array" as const,
    items: Array.isArray(s.items)
      ? ANY
      : compileNode(c, s.items, [...path, "items"], depth + 1, nesting + 1),
    minItems,
    maxItems,
  };
}

function compileTyped(
  c: Compilation,
  s: Schema,
  type: unknown,
  path: SchemaPath,
  depth: number,
  nesting: number,
): SchemaNode {
  switch (type) {
    case "object":
      return compileObject(
        c,
        s,
        ownProperties(c, s, path),
        requiredOf(c, s, path),
        path,
        depth,
        nesting,
      );
    case "array":
      return compileArray(c, s, path, depth, nesting);
    case "string": {
      checkApplied(c, s, path, ["type", "minLength", "maxLength"], type);
      const [minLength, maxLength] = bounds(c, s, path, "minLength", "maxLength");
      return { kind: "string", minLength, maxLength };
    }
    case "number":
    case "integer":
      checkApplied(c, s, path, ["type"], type);
      return { kind: "number", integer: type === "integer" };
    case "boolean":
      checkApplied(c, s, path, ["type"], type);
      return literal([true, false]);
    case "null":
      checkApplied(c, s, path, ["type"], type);
      return literal([null]);
    default:
      return fail([...path, "type"], `unsupported type '${String(type)}'`);
  }
}

function compileNode(
  c: Compilation,
  schema: unknown,
  path: SchemaPath,
  depth: number,
  nesting: number,
): SchemaNode {
  if (schema === true || schema === undefined) return ANY;
  if (depth > MAX_SCHEMA_DEPTH) fail(path, `the schema nests more than ${MAX_SCHEMA_DEPTH} levels`);
  spend(c, 1);
  if (!isSchema(schema)) return fail(path, "a schema must be an object");
  const s = schema;
  if (typeof s.$ref === "string") return compileRef(c, s, path, depth, nesting);
  if ("const" in s) return compileLiteral(c, s, "const", path);
  if (Array.isArray(s.enum)) return compileLiteral(c, s, "enum", path);
  for (const key of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(s[key])) return compileUnion(c, s, key, path, depth, nesting);
  }
  if (Array.isArray(s.allOf)) return compileAllOf(c, s, path, depth, nesting);
  if (Array.isArray(s.type)) {
    if (!s.type.length) fail([...path, "type"], "type is empty");
    return {
      kind: "union",
      options: s.type.map((t) => compileNode(c, { ...s, type: t }, path, depth + 1, nesting)),
    };
  }
  // A schema naming no type but using, say, `properties` describes objects: write one.
  const type = s.type ?? impliedType(s);
  if (type === undefined) {
    checkApplied(c, s, path, []);
    return ANY;
  }
  return compileTyped(c, s, type, path, depth, nesting);
}

/** Compiles `schema`, throwing a {@linkcode SchemaError} for what keeps it from compiling. */
export function compile(schema: unknown, strict: boolean): SchemaNode {
  const root = isSchema(schema) ? schema : {};
  // The root counts as entered, so a `$ref: "#"` inside it is seen as recursion at once.
  const c: Compilation = { root, strict, left: MAX_SCHEMA_NODES, active: new Map([[root, 0]]) };
  return compileNode(c, schema, [], 0, 0);
}
