/**
 * Which JSON Schema keywords the constrained decoder honours. A strict compile refuses every
 * standard keyword that would constrain the output and is not honoured, so a schema never
 * quietly loses a constraint; annotations and non-standard keywords only describe and pass.
 */

/** The instance types a standard keyword constrains; `any` constrains every type. */
type Family = "any" | "string" | "number" | "array" | "object";

/** Keywords that only describe or hold definitions: accepted everywhere, applied nowhere. */
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$anchor",
  "$dynamicAnchor",
  "$recursiveAnchor",
  "$vocabulary",
  "$comment",
  "$defs",
  "definitions",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "contentEncoding",
  "contentMediaType",
  "contentSchema",
  // An annotation unless a validator opts in (JSON Schema 2020-12, "format"); Pydantic and zod
  // put it on every date, e-mail and URL field, so refusing it refused their schemas whole.
  "format",
]);

const FAMILIES: Record<Family, readonly string[]> = {
  any: [
    "type",
    "enum",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
  ],
  string: ["minLength", "maxLength", "pattern"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  array: [
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
  ],
  object: [
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
  ],
};

const FAMILY_OF = new Map<string, Family>(
  (Object.entries(FAMILIES) as [Family, readonly string[]][]).flatMap(([family, keywords]) =>
    keywords.map((k): [string, Family] => [k, family])
  ),
);

/** The family of JSON Schema `type` name `type` (integers are numbers). */
function familyOfType(type: string): Family | undefined {
  if (type === "integer" || type === "number") return "number";
  return type === "string" || type === "array" || type === "object" ? type : undefined;
}

/**
 * The first keyword of `schema` that constrains its value but is not in `applied`, if any.
 * With `type`, keywords of other types' families pass: JSON Schema applies them only to
 * values of those types, so for this one they constrain nothing.
 */
export function unappliedKeyword(
  schema: Record<string, unknown>,
  applied: readonly string[],
  type?: string,
): string | undefined {
  const own = type === undefined ? undefined : familyOfType(type);
  for (const [keyword, value] of Object.entries(schema)) {
    if (value === undefined || ANNOTATIONS.has(keyword) || applied.includes(keyword)) continue;
    const family = FAMILY_OF.get(keyword);
    if (family === undefined) continue;
    if (type !== undefined && family !== "any" && family !== own) continue;
    return keyword;
  }
  return undefined;
}

/** The type whose keywords `schema` uses when it names no `type`: objects, arrays, strings, numbers. */
export function impliedType(schema: Record<string, unknown>): string | undefined {
  const families = new Set(Object.keys(schema).map((k) => FAMILY_OF.get(k)));
  for (const family of ["object", "array", "string", "number"] as const) {
    if (families.has(family)) return family;
  }
  return undefined;
}
