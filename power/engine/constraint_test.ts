import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "./_tokenizer.ts";
import { JsonConstraint, minimalValueLength } from "./constraint.ts";
import {
  ANY_OBJECT,
  compileSchema,
  MAX_SCHEMA_NODES,
  type SchemaNode,
  toolCallSchema,
} from "./json_schema.ts";
import { A3sError } from "@a3s/common";
import { seededRandom } from "./sampler.ts";

const tokenizer = await loadTokenizer(fileURLToPath(new URL("../testdata/tiny", import.meta.url)));
const EOS = tokenizer.specialTokens.get("<|im_end|>")!;

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer" },
    score: { type: "number" },
    tags: { type: "array", items: { enum: ["a", "b"] }, minItems: 1, maxItems: 3 },
    kind: { anyOf: [{ type: "null" }, { const: "x" }, { type: "boolean" }] },
  },
  required: ["name", "age", "tags"],
  additionalProperties: false,
};

/** Walks random allowed tokens; every prefix plus its completion must parse and validate. */
function fuzz(node: SchemaNode, check: (value: unknown) => void, runs: number, frame = {}) {
  const random = seededRandom(42);
  const deadline = Date.now() + 4000;
  for (let run = 0; run < runs && Date.now() < deadline; run++) {
    const constraint = new JsonConstraint(tokenizer, node, [EOS], frame);
    const bytes: number[] = [];
    const steps = 1 + Math.floor(random() * 50);
    for (let step = 0; step < steps && !constraint.mustEnd(); step++) {
      const mask = constraint.mask();
      const allowed = [...mask.keys()].filter((i) => mask[i]);
      assert(
        allowed.length > 0,
        `no token allowed after ${new TextDecoder().decode(Uint8Array.from(bytes))}`,
      );
      const token = allowed[Math.floor(random() * allowed.length)];
      if (token === EOS) break;
      assert(constraint.allows(token));
      constraint.advance(token);
      bytes.push(...tokenizer.tokenBytes(token));
    }
    const text = new TextDecoder().decode(Uint8Array.from(bytes)) + constraint.completion();
    check(text);
  }
}

Deno.test("schema-constrained prefixes always complete to valid JSON", () => {
  fuzz(compileSchema(PERSON), (text) => {
    const value = JSON.parse(text as string);
    assertEquals(typeof value.name, "string");
    assert([...value.name].length <= 12, JSON.stringify(text));
    assert(Number.isInteger(value.age));
    assert(value.tags.length >= 1 && value.tags.length <= 3);
    for (const tag of value.tags) assert(tag === "a" || tag === "b");
    if ("score" in value) assertEquals(typeof value.score, "number");
    if ("kind" in value) assert([null, "x", true, false].includes(value.kind));
    for (const key of Object.keys(value)) assert(key in PERSON.properties, key);
  }, 150);
});

Deno.test("additionalProperties types every value of a free object; false allows none", () => {
  const scores = compileSchema({ type: "object", additionalProperties: { type: "integer" } });
  fuzz(scores, (text) => {
    const value = JSON.parse(text as string);
    for (const v of Object.values(value)) assert(Number.isInteger(v), text as string);
  }, 100);
  fuzz(compileSchema({ type: "object", additionalProperties: false }), (text) => {
    assertEquals(JSON.parse(text as string), {});
  }, 20);
});

Deno.test("JSON mode yields any object", () => {
  fuzz(ANY_OBJECT, (text) => {
    const value = JSON.parse(text as string);
    assert(value !== null && typeof value === "object" && !Array.isArray(value));
  }, 150);
});

Deno.test("tool calls are wrapped, named and typed", () => {
  const node = toolCallSchema([
    {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
    {
      name: "get_time",
      parameters: {
        type: "object",
        properties: { zone: { enum: ["utc", "local"] } },
        required: ["zone"],
      },
    },
  ]);
  fuzz(
    node,
    (text) => {
      const match = /^<tool_call>\n([\s\S]*)\n<\/tool_call>$/.exec(text as string);
      assert(match, `not wrapped: ${text}`);
      const call = JSON.parse(match[1]);
      assertEquals(Object.keys(call), ["name", "arguments"]);
      if (call.name === "get_weather") assertEquals(typeof call.arguments.city, "string");
      else assert(["utc", "local"].includes(call.arguments.zone));
    },
    100,
    { prefix: "<tool_call>\n", suffix: "\n</tool_call>" },
  );
});

Deno.test("the end-of-sequence token waits for a complete value", () => {
  const constraint = new JsonConstraint(tokenizer, compileSchema({ type: "object" }), [EOS]);
  assert(!constraint.allows(EOS));
  for (const token of tokenizer.encode("{}", { special: "none" })) constraint.advance(token);
  assert(constraint.allows(EOS));
  assert(constraint.mustEnd());
  const number = new JsonConstraint(tokenizer, compileSchema({ type: "integer" }), [EOS]);
  assert(!number.allows(tokenizer.encode(".", { special: "none" })[0]));
  number.advance(tokenizer.encode("4", { special: "none" })[0]);
  assert(number.allows(EOS) && !number.mustEnd());
});

Deno.test("a schema's shortest value is counted without being built, however large", () => {
  const huge = compileSchema({
    type: "array",
    items: { type: "string", minLength: 10 },
    minItems: 1e9,
  });
  const started = performance.now();
  const constraint = new JsonConstraint(tokenizer, huge, [EOS]);
  // 1e9 items of `"aaaaaaaaaa"` (12 bytes), 1e9 - 1 commas and two brackets.
  assertEquals(constraint.minimalLength(), 1e9 * 12 + (1e9 - 1) + 2);
  assert(performance.now() - started < 1_000);
  assertEquals(minimalValueLength(compileSchema({ enum: ["abc", 1] })), 1);
});

Deno.test("an oversized schema is refused naming its field", () => {
  const many = Object.fromEntries(
    Array.from({ length: MAX_SCHEMA_NODES + 1 }, (_, i) => [`p${i}`, { type: "null" }]),
  );
  const error = assertThrows(
    () => compileSchema({ type: "object", properties: many }, "format"),
    A3sError,
  );
  assertEquals(error.field, "format");
  assertEquals(error.status, 400);
});

Deno.test("a character cut mid-way is finished byte by byte", () => {
  const constraint = new JsonConstraint(tokenizer, compileSchema({ type: "string" }), [EOS]);
  const bytes = new TextEncoder().encode('"é');
  // Feed the quote and the first byte of `é` as single-byte tokens.
  for (const b of bytes.slice(0, 2)) {
    const token = [...Array(tokenizer.vocabSize).keys()].find((id) => {
      const t = tokenizer.tokenBytes(id);
      return t.length === 1 && t[0] === b;
    });
    assert(token !== undefined, `no single-byte token for ${b}`);
    constraint.advance(token);
  }
  const closing = constraint.completionTokens().flatMap((id) => [...tokenizer.tokenBytes(id)]);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(
    Uint8Array.from([...bytes.slice(0, 2), ...closing]),
  );
  assertEquals(JSON.parse(text).length, 1);
});
