/**
 * Arbitrary JSON in requests, against a real server: nesting past the limit and schema
 * keywords decoding cannot enforce are 400s naming the field, on Ollama's and OpenAI's API.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { powerModule, powerRouter } from "../routes.ts";
import { Power } from "../service.ts";
import { MAX_JSON_DEPTH } from "./_json.ts";

const TINY = fileURLToPath(new URL("../testdata/tiny", import.meta.url));
const USER = [{ role: "user", content: "Fill it in" }];

async function withServer(
  fn: (post: (path: string, body: unknown) => Promise<Response>) => Promise<void>,
) {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-json-" });
  const server: RunningServer = await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule({ models: { tiny: TINY }, noDefaultModel: true })],
    logger: createLogger("silent"),
  });
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  try {
    await fn(post);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

/** A value `levels` objects deep: `{"a": {"a": ... 1}}`. */
function deepValue(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

/** A schema of objects nested `levels` times, as a fuzzer sent it (twice as deep as JSON). */
function deepSchema(levels: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < levels; i++) schema = { type: "object", properties: { a: schema } };
  return schema;
}

/** The field an error names and its message, in either API's error shape. */
async function refusal(response: Response): Promise<{ field: string; message: string }> {
  const body = await response.json();
  assertEquals(response.status, 400, JSON.stringify(body));
  if (typeof body.error === "string") {
    return { field: body.error.split(": ")[0], message: body.error };
  }
  return { field: body.error.param, message: body.error.message };
}

const DEEP = deepValue(10_000);
const DEEP_SCHEMA = deepSchema(10_000);
const tool = (parameters: unknown, extra = {}) => ({
  type: "function",
  function: { name: "f", parameters, ...extra },
});

Deno.test("JSON nested 10,000 levels is a 400 naming its field, never a template overflow", async () => {
  await withServer(async (post) => {
    const ollama = { model: "tiny", messages: USER, stream: false };
    const openai = { model: "tiny", messages: USER, max_tokens: 1 };
    const cases: [string, unknown, string][] = [
      ["/api/chat", { ...ollama, tools: [tool(DEEP_SCHEMA)] }, "tools.0.function.parameters"],
      ["/api/chat", { ...ollama, format: DEEP_SCHEMA }, "format"],
      ["/api/generate", { model: "tiny", prompt: "x", format: DEEP_SCHEMA }, "format"],
      ["/api/chat", {
        ...ollama,
        messages: [...USER, {
          role: "assistant",
          tool_calls: [{ function: { name: "f", arguments: DEEP } }],
        }],
      }, "messages.1.tool_calls.0.function.arguments"],
      ["/api/chat", { ...ollama, options: { seed: 1, mirostat: DEEP } }, "options.mirostat"],
      [
        "/v1/chat/completions",
        { ...openai, tools: [tool(DEEP_SCHEMA)] },
        "tools.0.function.parameters",
      ],
      ["/v1/chat/completions", {
        ...openai,
        response_format: { type: "json_schema", json_schema: { name: "x", schema: DEEP_SCHEMA } },
      }, "response_format.json_schema.schema"],
      ["/v1/chat/completions", {
        ...openai,
        messages: [...USER, {
          role: "assistant",
          content: null,
          tool_calls: [{
            id: "c",
            type: "function",
            function: { name: "f", arguments: JSON.stringify(DEEP) },
          }],
        }],
      }, "messages.1.tool_calls.0.function.arguments"],
      ["/v1/chat/completions", { ...openai, metadata: DEEP }, "metadata"],
      [
        "/v1/chat/completions",
        { ...openai, messages: [{ ...USER[0], extra: DEEP }] },
        "messages.0.extra",
      ],
      ["/v1/chat/completions", {
        ...openai,
        messages: [{ role: "user", content: [{ type: "text", text: "x", extra: DEEP }] }],
      }, "messages.0.content.0.extra"],
      ["/v1/completions", { model: "tiny", prompt: "x", metadata: DEEP }, "metadata"],
    ];
    for (const [path, body, field] of cases) {
      const error = await refusal(await post(path, body));
      assertEquals(error.field, field, `${path}: ${error.message}`);
      assert(
        error.message.includes(`nested more than ${MAX_JSON_DEPTH} levels deep; flatten it`),
        error.message,
      );
    }
  });
});

Deno.test("JSON exactly at the depth limit passes; one level more is refused", async () => {
  await withServer(async (post) => {
    const chat = (levels: number) =>
      post("/api/chat", {
        model: "tiny",
        messages: [...USER, {
          role: "assistant",
          tool_calls: [{ function: { name: "f", arguments: deepValue(levels) } }],
        }],
        stream: false,
        options: { num_predict: 1 },
      });
    const fits = await chat(MAX_JSON_DEPTH);
    assertEquals(fits.status, 200, await fits.clone().text());
    await fits.body?.cancel();
    const deeper = await refusal(await chat(MAX_JSON_DEPTH + 1));
    assertEquals(deeper.field, "messages.1.tool_calls.0.function.arguments");
  });
});

const PATTERN = { type: "object", properties: { name: { type: "string", pattern: "^[A-Z]" } } };
const LOOP = { $ref: "#/$defs/a", $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } } };
const TREE = {
  $ref: "#/$defs/node",
  $defs: {
    node: {
      type: "object",
      properties: { children: { type: "array", items: { $ref: "#/$defs/node" } } },
    },
  },
};

Deno.test("schema keywords decoding cannot enforce are 400s naming the keyword's path", async () => {
  await withServer(async (post) => {
    const ollama = (format: unknown) =>
      post("/api/chat", { model: "tiny", messages: USER, format, stream: false });
    const openai = (schema: unknown) =>
      post("/v1/chat/completions", {
        model: "tiny",
        messages: USER,
        response_format: { type: "json_schema", json_schema: { name: "x", schema } },
      });
    const field = "response_format.json_schema.schema";
    const cases: [Promise<Response>, string, string][] = [
      [openai(PATTERN), `${field}.properties.name.pattern`, 'keyword "pattern" is not supported'],
      [ollama(PATTERN), "format.properties.name.pattern", 'keyword "pattern" is not supported'],
      [ollama({ type: "object", not: { required: ["a"] } }), "format.not", '"not"'],
      [openai({ type: "integer", minimum: 1 }), `${field}.minimum`, '"minimum"'],
      [openai({ type: "array", uniqueItems: true }), `${field}.uniqueItems`, '"uniqueItems"'],
      [ollama(LOOP), "format.$defs.b.$ref", "loops back to itself"],
      [openai(LOOP), `${field}.$defs.b.$ref`, "loops back to itself"],
      [ollama({ $ref: "#" }), "format.$ref", "loops back to itself"],
      [openai(TREE), `${field}.$defs.node.properties.children.items.$ref`, "recursive $ref"],
      [
        post("/api/generate", {
          model: "tiny",
          prompt: "x",
          format: { anyOf: [], type: "string" },
        }),
        "format.type",
        'beside "anyOf"',
      ],
      [
        post("/v1/chat/completions", {
          model: "tiny",
          messages: USER,
          tools: [tool({ type: "object", properties: { city: PATTERN.properties.name } }, {
            strict: true,
          })],
        }),
        "tools.0.function.parameters.properties.city.pattern",
        '"pattern"',
      ],
    ];
    for (const [response, path, words] of cases) {
      const error = await refusal(await response);
      assertEquals(error.field, path, error.message);
      assert(error.message.startsWith(`${path}: `) && error.message.includes(words), error.message);
    }
  });
});

Deno.test("annotations pass, tools without strict keep unenforced keywords, dictionaries are typed", async () => {
  await withServer(async (post) => {
    const annotated = await post("/api/chat", {
      model: "tiny",
      messages: USER,
      stream: false,
      options: { num_predict: 40, seed: 3 },
      format: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        title: "Scores",
        description: "Points per player",
        examples: [{ ann: 3 }],
        default: {},
        type: "object",
        additionalProperties: { type: "integer", description: "points" },
      },
    });
    const body = await annotated.json();
    assertEquals(annotated.status, 200, JSON.stringify(body));
    for (const value of Object.values(JSON.parse(body.message.content))) {
      assert(Number.isInteger(value), body.message.content);
    }

    const loose = await post("/v1/chat/completions", {
      model: "tiny",
      messages: USER,
      max_tokens: 4,
      tools: [tool(PATTERN)],
    });
    assertEquals(loose.status, 200, await loose.clone().text());
    await loose.body?.cancel();

    // `format` is an annotation (Pydantic's dates); `strict: false` asks for no guarantee, so an
    // unenforced keyword passes there as in a tool's parameters.
    for (
      const json_schema of [
        {
          name: "x",
          schema: { type: "object", properties: { at: { type: "string", format: "date-time" } } },
        },
        { name: "x", strict: false, schema: PATTERN },
      ]
    ) {
      const reply = await post("/v1/chat/completions", {
        model: "tiny",
        messages: USER,
        max_tokens: 8,
        response_format: { type: "json_schema", json_schema },
      });
      assertEquals(reply.status, 200, await reply.clone().text());
      await reply.body?.cancel();
    }
  });
});

Deno.test("the OpenAPI document still describes the bounded request bodies", () => {
  const app = powerRouter(new Power({ home: "/nonexistent", noDefaultModel: true }));
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "t", version: "1" },
  });
  assert(document.paths?.["/api/chat"] && document.paths?.["/v1/chat/completions"]);
  assert(JSON.stringify(document).includes(`at most ${MAX_JSON_DEPTH} levels`));
});
