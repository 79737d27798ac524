/** OpenAI's routes against a real server: token usage of legacy completions. */
import { assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "../routes.ts";

const TINY = fileURLToPath(new URL("../testdata/tiny", import.meta.url));

Deno.test("/v1/completions counts prompt_tokens of every prompt once, streamed or not", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-openai-" });
  const server = await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule({ models: { tiny: TINY }, noDefaultModel: true })],
    logger: createLogger("silent"),
  });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
    const prompts = ["Once upon a time", "The quick brown fox jumps", "Hi"];
    // Each prompt's own count, as the model sees it (a raw prompt, no template).
    let expected = 0;
    for (const prompt of prompts) {
      const one = await client.completions.create({ model: "tiny", prompt, max_tokens: 1 });
      expected += one.usage?.prompt_tokens ?? 0;
    }
    const request = { model: "tiny", prompt: prompts, n: 2, max_tokens: 3, seed: 1 };
    const plain = await client.completions.create(request);
    assertEquals(plain.choices.length, prompts.length * 2);
    assertEquals(plain.usage?.prompt_tokens, expected);
    assertEquals(plain.usage?.completion_tokens, prompts.length * 2 * 3);

    const stream = await client.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    assertEquals(usage?.prompt_tokens, expected);
    assertEquals(usage?.total_tokens, expected + prompts.length * 2 * 3);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
