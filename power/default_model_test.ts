/**
 * The shipped default model through a real server and the official clients: it answers in
 * English, calls tools with valid arguments and embeds. Skipped until the model is in the repo.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import OpenAI from "openai";
import { Ollama } from "ollama";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "./routes.ts";
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_NAME } from "./service.ts";

const dir = Deno.env.get("A3S_POWER_DEFAULT_MODEL_DIR") ?? DEFAULT_MODEL_DIR;
const present = await Deno.stat(join(dir, "onnx", "model.onnx")).then(() => true, () => false);
if (!present) console.log(`SKIPPED default model tests: no model at ${dir}`);

/** Share of letters, digits, spaces and common punctuation: English prose scores high. */
function englishShare(text: string): number {
  if (!text.length) return 0;
  const plain = text.match(/[A-Za-z0-9 .,;:'"!?()\n-]/g)?.length ?? 0;
  return plain / text.length;
}

const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Get the current weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city" } },
      required: ["city"],
    },
  },
};

Deno.test({
  name: "the default model chats in English, calls tools and embeds",
  ignore: !present,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-power-default-" });
    const server = await startServer({
      config: loadConfig({ flags: { port: 0, home }, env: {} }),
      modules: [powerModule({ models: { [DEFAULT_MODEL_NAME]: dir } })],
      logger: createLogger("silent"),
    });
    try {
      const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
      const ids = (await openai.models.list()).data.map((m) => m.id);
      assert(ids.includes(DEFAULT_MODEL_NAME), ids.join(", "));

      const reply = await openai.chat.completions.create({
        model: DEFAULT_MODEL_NAME,
        messages: [{ role: "user", content: "What is a file system?" }],
        max_tokens: 48,
        temperature: 0,
      });
      const text = reply.choices[0].message.content ?? "";
      assert(text.trim().length > 0, "empty reply");
      assert(englishShare(text) > 0.9, `not English: ${JSON.stringify(text)}`);
      assert(!text.includes("<|im_"), `turn markers leaked: ${JSON.stringify(text)}`);

      const called = await openai.chat.completions.create({
        model: DEFAULT_MODEL_NAME,
        messages: [{ role: "user", content: "What is the weather in Paris?" }],
        tools: [WEATHER_TOOL],
        tool_choice: "required",
        max_tokens: 64,
        temperature: 0,
      });
      const call = called.choices[0].message.tool_calls?.[0];
      assert(call?.type === "function", JSON.stringify(called.choices[0].message));
      assertEquals(call.function.name, "get_weather");
      assertEquals(typeof JSON.parse(call.function.arguments).city, "string");

      const streamed = await openai.chat.completions.create({
        model: DEFAULT_MODEL_NAME,
        messages: [{ role: "user", content: "What is the weather in Paris?" }],
        tools: [WEATHER_TOOL],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        max_tokens: 64,
        temperature: 0,
        stream: true,
      });
      const deltas = [];
      for await (const part of streamed) {
        for (const choice of part.choices) deltas.push(...(choice.delta.tool_calls ?? []));
      }
      assertEquals(deltas[0]?.function?.name, "get_weather");
      assertEquals(typeof JSON.parse(deltas[0]?.function?.arguments ?? "").city, "string");

      const ollama = new Ollama({ host: server.url });
      const structured = await ollama.chat({
        model: DEFAULT_MODEL_NAME,
        messages: [{ role: "user", content: "Describe a book as JSON with a title and a year." }],
        format: {
          type: "object",
          properties: { title: { type: "string" }, year: { type: "integer" } },
          required: ["title", "year"],
        },
        options: { num_predict: 64, temperature: 0 },
      });
      const book = JSON.parse(structured.message.content);
      assertEquals(typeof book.title, "string");
      assert(Number.isInteger(book.year));

      const embedded = await ollama.embed({ model: DEFAULT_MODEL_NAME, input: ["a cat", "a dog"] });
      assertEquals(embedded.embeddings.length, 2);
      assert(embedded.embeddings[0].length > 0);
    } finally {
      await server.shutdown();
      await Deno.remove(home, { recursive: true });
    }
  },
});
