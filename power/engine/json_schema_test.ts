import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { compileSchema, type SchemaNode, schemaProblem, toolCallSchema } from "./json_schema.ts";

/** The path and message a strict compile refuses `schema` with. */
function refused(schema: unknown, strict = true): string {
  const problem = schemaProblem(schema, { strict });
  assert(problem, `accepted: ${JSON.stringify(schema)}`);
  return `${problem.path.join(".")}: ${problem.message}`;
}

Deno.test("a strict compile refuses each keyword it would not enforce, at its path", () => {
  const cases: [unknown, string][] = [
    [{ type: "string", pattern: "^a" }, 'pattern: keyword "pattern" is not supported'],
    [{ type: "number", multipleOf: 2 }, 'multipleOf: keyword "multipleOf" is not supported'],
    [
      { type: "object", minProperties: 1 },
      'minProperties: keyword "minProperties" is not supported',
    ],
    [{ type: "object", patternProperties: {} }, 'patternProperties: keyword "patternProperties"'],
    [{ type: "array", contains: {} }, 'contains: keyword "contains" is not supported'],
    [{ type: "array", prefixItems: [] }, 'prefixItems: keyword "prefixItems" is not supported'],
    [{ type: "array", items: [{}] }, 'items: keyword "items" as an array (a tuple)'],
    [{ if: { type: "string" } }, 'if: keyword "if" is not supported'],
    [{ properties: { a: { not: {} } } }, 'properties.a.not: keyword "not" is not supported'],
    [{ items: { type: "integer", maximum: 3 } }, 'items.maximum: keyword "maximum"'],
    [
      { $ref: "#/$defs/a", maxLength: 2, $defs: { a: {} } },
      'maxLength: keyword "maxLength" is not supported beside "$ref"',
    ],
    [
      { enum: ["a"], minLength: 2 },
      'minLength: keyword "minLength" is not supported beside "enum"',
    ],
    [{ anyOf: [{}], oneOf: [{}] }, 'oneOf: keyword "oneOf" is not supported beside "anyOf"'],
    [{ allOf: [{ type: "string" }] }, "allOf.0.type: allOf is supported for objects only"],
    [
      { allOf: [{ maxLength: 1 }] },
      'allOf.0.maxLength: keyword "maxLength" is not supported inside allOf',
    ],
    [
      { type: "string", minLength: 3, maxLength: 2 },
      "minLength: minLength 3 is greater than maxLength 2",
    ],
    [{ type: "array", minItems: 1.5 }, "minItems: must be a non-negative integer"],
    [{ type: "string", enum: [1, 2] }, 'enum: no enum value is of type "string"'],
    [{ type: "object", required: ["a"], additionalProperties: false }, 'required: "a" is required'],
    [{ type: "date" }, "type: unsupported type 'date'"],
  ];
  for (const [schema, expected] of cases) {
    const message = refused(schema);
    assert(message.startsWith(expected), `${JSON.stringify(schema)}: ${message}`);
  }
});

Deno.test("supported keywords, annotations and other types' keywords compile strictly", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "urn:example",
    title: "Person",
    description: "A person",
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 40, examples: ["Ada"], default: "x" },
      age: { type: ["integer", "null"], deprecated: false, maxLength: 3 },
      tags: { type: "array", items: { enum: ["a", "b"] }, uniqueItems: false, maxItems: 3 },
      kind: { anyOf: [{ const: "x", type: "string" }, { $ref: "#/$defs/empty" }] },
      size: { type: "integer", format: "int32", "x-unit": "cm", nullable: true },
      // An annotation by default (JSON Schema 2020-12); Pydantic writes it on every date.
      born: { type: "string", format: "date-time" },
    },
    required: ["name"],
    additionalProperties: false,
    $defs: { empty: { type: "object", additionalProperties: false } },
  };
  assertEquals(schemaProblem(schema), undefined);
  const node = compileSchema(schema) as Extract<SchemaNode, { kind: "object" }>;
  assertEquals(node.properties?.map(([name]) => name), [
    "name",
    "age",
    "tags",
    "kind",
    "size",
    "born",
  ]);
});

Deno.test("$ref loops are refused in every mode; recursion is refused strictly, bounded leniently", () => {
  const loop = {
    $ref: "#/$defs/a",
    $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }, { type: "string" }] } },
  };
  for (const strict of [true, false]) {
    assert(refused(loop, strict).startsWith("$defs.a.anyOf.0.$ref: $ref '#/$defs/a' loops back"));
    assert(refused({ $ref: "#" }, strict).includes("loops back to itself"));
  }
  const tree = {
    type: "object",
    properties: { children: { type: "array", items: { $ref: "#" } } },
  };
  assertEquals(
    refused(tree),
    "properties.children.items.$ref: recursive $ref '#' is not supported",
  );
  const started = performance.now();
  assertEquals(compileSchema(tree, "tools", { strict: false }).kind, "object");
  assert(performance.now() - started < 1_000);
});

Deno.test("a lenient compile (tool parameters) lets unenforced keywords pass", () => {
  const parameters = {
    type: "object",
    properties: { city: { type: "string", pattern: "^[A-Z]", format: "x" }, n: { minimum: 1 } },
    not: { required: ["x"] },
  };
  assertEquals(schemaProblem(parameters, { strict: false }), undefined);
  const node = toolCallSchema([{ name: "f", parameters }]);
  assertEquals(node.kind, "union");
});

Deno.test("a schema nested far too deep is refused, not a stack overflow", () => {
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 10_000; i++) schema = { type: "array", items: schema };
  for (const strict of [true, false]) {
    const error = assertThrows(() => compileSchema(schema, "format", { strict }), A3sError);
    assertEquals(error.status, 400);
    assert(error.message.includes("nests more than 64 levels"), error.message);
  }
});

Deno.test("typeless schemas write the type their keywords describe", () => {
  assertEquals(compileSchema({ minLength: 2 }), {
    kind: "string",
    minLength: 2,
    maxLength: Infinity,
  });
  assertEquals(compileSchema({ maxItems: 1 }).kind, "array");
  assertEquals(compileSchema({ required: ["a"] }).kind, "object");
  assertEquals(compileSchema({ description: "anything" }).kind, "any");
});
