/**
 * End to end: a real server on a free port with the power module, driven by the official
 * `openai` and `ollama` clients. The tiny fixture's weights are random, so text is gibberish,
 * but every structural promise (streams, JSON schema, tool calls) must hold.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import OpenAI from "openai";
import { Ollama } from "ollama";
import {
  AccessPolicy,
  createLogger,
  loadConfig,
  type RunningServer,
  startServer,
} from "@a3s/common";
import { powerModule } from "./routes.ts";

const TINY = fileURLToPath(new URL("./testdata/tiny", import.meta.url));

/** A token that may manage models (pull, copy, delete); model APIs need none on loopback. */
const WRITE_TOKEN = "e2e-write-token-0123456789";

async function withServer(fn: (server: RunningServer, home: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-e2e-" });
  const server = await startServer({
    config: {
      ...loadConfig({ flags: { port: 0, home }, env: {} }),
      security: { tokens: [{ token: WRITE_TOKEN, scopes: ["power:read", "power:write"] }] },
    },
    modules: [powerModule({
      models: { tiny: TINY },
      noDefaultModel: true,
      // The test pulls from its own folder and from a file server on loopback.
      policy: new AccessPolicy({ roots: [home], privateNetworks: ["127.0.0.1/32"] }),
    })],
    logger: createLogger("silent"),
  });
  try {
    await fn(server, home);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer" },
    tags: { type: "array", items: { enum: ["a", "b"] }, maxItems: 3 },
  },
  required: ["name", "age"],
  additionalProperties: false,
};

const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"],
    },
  },
};

Deno.test("openai client: models, chat, stream, schema, tools, embeddings", async () => {
  await withServer(async (server) => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
    const models = await client.models.list();
    assertEquals(models.data.map((m) => m.id), ["tiny:latest"]);
    assertEquals((await client.models.retrieve("tiny")).id, "tiny:latest");

    const chat = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 12,
      seed: 7,
      logprobs: true,
      top_logprobs: 2,
    });
    assertEquals(chat.object, "chat.completion");
    assertEquals(chat.choices[0].finish_reason, "length");
    assertEquals(chat.usage?.completion_tokens, 12);
    assertEquals(chat.choices[0].logprobs?.content?.length, 12);
    assertEquals(chat.choices[0].logprobs?.content?.[0].top_logprobs.length, 2);
    const again = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 12,
      seed: 7,
    });
    assertEquals(again.choices[0].message.content, chat.choices[0].message.content);
    // Concurrent requests share batched decode steps and still get exactly their own output.
    const together = await Promise.all([7, 8, 7, 9].map((seed) =>
      client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: seed === 8 ? "A longer question here?" : "Hello" }],
        max_tokens: 12,
        seed,
      })
    ));
    assertEquals(together[0].choices[0].message.content, chat.choices[0].message.content);
    assertEquals(together[2].choices[0].message.content, chat.choices[0].message.content);

    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 10,
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = "";
    let finish: string | null = null;
    let usage;
    for await (const part of stream) {
      if (part.usage) usage = part.usage;
      for (const choice of part.choices) {
        streamed += choice.delta.content ?? "";
        finish = choice.finish_reason ?? finish;
      }
    }
    assertEquals(finish, "length");
    assertEquals(usage?.completion_tokens, 10);
    assertEquals(
      streamed,
      (await client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 10,
        seed: 7,
      })).choices[0].message.content,
    );

    for (const seed of [1, 2, 3]) {
      const structured = await client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "Describe a person" }],
        response_format: { type: "json_schema", json_schema: { name: "person", schema: PERSON } },
        max_tokens: 40,
        seed,
        temperature: 1.2,
      });
      const value = JSON.parse(structured.choices[0].message.content ?? "");
      assertEquals(typeof value.name, "string");
      assert(Number.isInteger(value.age));
      assert([...value.name].length <= 12);
      for (const key of Object.keys(value)) assert(["name", "age", "tags"].includes(key));
    }

    // The tiny model's 512-token context is filled by its 463-token tool prompt, so a forced
    // call cannot fit after it: that is a 400 naming `tools`, streamed or not, never a reply
    // that runs past the context. (The default model test makes forced calls that fit.)
    for (const stream of [false, true]) {
      const refused = await assertRejects(
        () =>
          client.chat.completions.create({
            model: "tiny",
            messages: [{ role: "user", content: "Weather in Paris?" }],
            tools: [WEATHER_TOOL],
            tool_choice: stream
              ? { type: "function", function: { name: "get_weather" } }
              : "required",
            max_tokens: 60,
            seed: 3,
            stream,
          }),
        OpenAI.BadRequestError,
      );
      assertEquals(refused.param, "tools");
    }

    const completion = await client.completions.create({
      model: "tiny",
      prompt: "Once upon a time",
      max_tokens: 5,
      seed: 1,
      logprobs: 1,
    });
    assertEquals(completion.choices[0].logprobs?.tokens?.length, 5);

    const embeddings = await client.embeddings.create({ model: "tiny", input: ["hello", "world"] });
    assertEquals(embeddings.data.length, 2);
    const v = embeddings.data[0].embedding;
    assertEquals(v.length, 32);
    assert(Math.abs(Math.hypot(...v) - 1) < 1e-4);

    await assertRejects(
      () =>
        client.chat.completions.create({
          model: "missing",
          messages: [{ role: "user", content: "x" }],
        }),
      OpenAI.NotFoundError,
    );
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => client.chat.completions.create({ model: "tiny", messages: [] } as any),
      OpenAI.BadRequestError,
    );
  });
});

Deno.test("ollama client: tags, generate, chat, stream, format, tools, embed, lifecycle", async () => {
  await withServer(async (server, home) => {
    const ollama = new Ollama({ host: server.url });
    const manager = new Ollama({
      host: server.url,
      headers: { authorization: `Bearer ${WRITE_TOKEN}` },
    });
    assertEquals((await ollama.list()).models.map((m) => m.name), ["tiny:latest"]);
    assertEquals((await ollama.version()).version.length > 0, true);

    const generated = await ollama.generate({
      model: "tiny",
      prompt: "Why is the sky blue?",
      options: { num_predict: 8, seed: 5 },
    });
    assertEquals(generated.done, true);
    assertEquals(generated.done_reason, "length");
    assertEquals(generated.eval_count, 8);
    assert(generated.prompt_eval_count > 0);
    assert(generated.total_duration > 0);

    let streamed = "";
    let last;
    for await (
      const part of await ollama.generate({
        model: "tiny",
        prompt: "Why is the sky blue?",
        options: { num_predict: 8, seed: 5 },
        stream: true,
      })
    ) {
      streamed += part.response;
      last = part;
    }
    assertEquals(streamed, generated.response);
    assertEquals(last?.done, true);

    const chat = await ollama.chat({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      options: { num_predict: 6, seed: 1 },
    });
    assertEquals(chat.message.role, "assistant");
    assertEquals(chat.eval_count, 6);

    let chunks = 0;
    for await (
      const part of await ollama.chat({
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        options: { num_predict: 6, seed: 1 },
        stream: true,
      })
    ) {
      if (!part.done) chunks++;
    }
    assert(chunks > 0);

    const formatted = await ollama.chat({
      model: "tiny",
      messages: [{ role: "user", content: "Describe a person as JSON" }],
      format: PERSON,
      options: { num_predict: 40, seed: 9, temperature: 1 },
    });
    const person = JSON.parse(formatted.message.content);
    assert(Number.isInteger(person.age));

    const json = await ollama.generate({
      model: "tiny",
      prompt: "JSON please",
      format: "json",
      options: { num_predict: 30, seed: 2 },
    });
    assertEquals(typeof JSON.parse(json.response ?? ""), "object");

    const tooled = await ollama.chat({
      model: "tiny",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [WEATHER_TOOL],
      options: { num_predict: 30, seed: 1 },
    });
    // Under tool_choice auto the random model rarely opens a call; any call it makes must parse.
    for (const call of tooled.message.tool_calls ?? []) {
      assertEquals(call.function.name, "get_weather");
    }

    const embedded = await ollama.embed({ model: "tiny", input: ["a", "b c"] });
    assertEquals(embedded.embeddings.length, 2);
    assertEquals((await ollama.embeddings({ model: "tiny", prompt: "a" })).embedding.length, 32);

    const shown = await ollama.show({ model: "tiny" });
    assertEquals(shown.details.format, "onnx");
    assertEquals(shown.details.family, "llama");
    assertEquals((await ollama.ps()).models.map((m) => m.name), ["tiny:latest"]);

    // Pull from a local archive, then from a URL served by a local HTTP server.
    const archive = join(home, "tiny-archived.tar.gz");
    const tar = new Deno.Command("tar", { args: ["-czf", archive, "-C", dirname(TINY), "tiny"] });
    assert((await tar.output()).success);
    const progress = [];
    for await (const p of await manager.pull({ model: archive, stream: true })) {
      progress.push(p.status);
    }
    assertEquals(progress[0], "pulling manifest");
    assertEquals(progress.at(-1), "success");
    const files = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      async () => new Response(await Deno.readFile(archive)),
    );
    const url = `http://127.0.0.1:${files.addr.port}/tiny-web.tar.gz`;
    const webProgress = [];
    for await (const p of await manager.pull({ model: url, stream: true })) webProgress.push(p);
    await files.shutdown();
    assert(webProgress.some((p) => p.status === "downloading" && p.completed > 0));
    assertEquals(webProgress.at(-1)?.status, "success");
    await manager.copy({ source: "tiny", destination: "tiny-copy" });
    const names = (await ollama.list()).models.map((m) => m.name).sort();
    assertEquals(names, [
      "tiny-archived:latest",
      "tiny-copy:latest",
      "tiny-web:latest",
      "tiny:latest",
    ]);
    await manager.delete({ model: "tiny-copy" });
    const reply = await ollama.generate({
      model: "tiny-web",
      prompt: "hi",
      // A seed, because the tiny model's random weights sample its end token now and then.
      options: { num_predict: 3, seed: 5 },
    });
    assertEquals(reply.eval_count, 3);
    await assertRejects(() => manager.delete({ model: "tiny" }), Error);
    await assertRejects(() => ollama.show({ model: "nope" }), Error);
    assert(home.length > 0);

    // keep_alive 0 unloads right after the request.
    await ollama.generate({ model: "tiny", prompt: "", keep_alive: 0 });
    assertEquals((await ollama.ps()).models.map((m) => m.name), ["tiny-web:latest"]);
  });
});

Deno.test("a client that disconnects mid-stream frees its slot; errors keep each API's shape", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-e2e-" });
  const server = await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule({ models: { tiny: TINY }, noDefaultModel: true, concurrency: 1 })],
    logger: createLogger("silent"),
  });
  try {
    const generated = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text.split("\n").find((l) =>
        l.startsWith('a3s_power_tokens_generated_total{model="tiny:latest"}')
      );
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const before = await generated();
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny", prompt: "go on", options: { num_predict: 400 } }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    const next = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        prompt: "hi",
        stream: false,
        options: { num_predict: 2, seed: 5 },
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const nextBody = await next.json();
    assertEquals(nextBody.eval_count, 2, JSON.stringify(nextBody));
    // The abandoned generation stopped early: far fewer than its 400 tokens were made.
    assert((await generated()) - before < 200, `generated ${(await generated()) - before}`);

    const openaiError = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "nope", messages: [{ role: "user", content: "x" }] }),
    });
    assertEquals(openaiError.status, 404);
    const body = await openaiError.json();
    assertEquals(body.error.param, "model");
    assertEquals(body.error.type, "invalid_request_error");

    const badSchema = await fetch(`${server.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        messages: [{ role: "user", content: "x" }],
        format: { type: "object", properties: { a: { type: "date" } } },
        stream: false,
      }),
    });
    assertEquals(badSchema.status, 400);
    assert(/unsupported type 'date'/.test((await badSchema.json()).error));

    const tooLong = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny", prompt: "word ".repeat(600), raw: true }),
    });
    assertEquals(tooLong.status, 400);
    assert(/exceeds the model's context of 512 by \d+/.test((await tooLong.json()).error));
    const smallContext = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        prompt: "word ".repeat(20),
        raw: true,
        options: { num_ctx: 16 },
      }),
    });
    assert(/exceeds the model's context of 16 by \d+/.test((await smallContext.json()).error));
    const truncated = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        prompt: "word ".repeat(600),
        raw: true,
        truncate: true,
        stream: false,
        options: { num_predict: 1 },
      }),
    });
    assertEquals((await truncated.json()).prompt_eval_count, 511);
    const withImage = await fetch(`${server.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        messages: [{ role: "user", content: "what is this?", images: ["aGk="] }],
      }),
    });
    assertEquals(withImage.status, 400);
    assertEquals(
      (await withImage.json()).error,
      "messages.0.images: model 'tiny:latest' does not take images",
    );
    const imagePart = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "tiny",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }],
      }),
    });
    assertEquals(imagePart.status, 400);
    assertEquals((await imagePart.json()).error.param, "messages");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert(metrics.includes('a3s_power_tokens_generated_total{model="tiny:latest"}'));
    assert(metrics.includes("a3s_power_time_to_first_token_seconds_bucket"));
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
