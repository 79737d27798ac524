/**
 * The OpenAI-compatible provider against a real power server (power's tiny fixture model, so
 * it loads fast): streamed text, usage, and a tool call constrained by `tool_choice: required`.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "@a3s/power/routes";
import { collect } from "../llm/types.ts";
import { OpenAiProvider } from "./openai.ts";

const TINY = fileURLToPath(new URL("../../power/testdata/tiny", import.meta.url));

Deno.test("openai provider: streams and calls tools against a real power server", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-power-" });
  const server = await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule({ models: { tiny: TINY }, noDefaultModel: true })],
    logger: createLogger("silent"),
  });
  try {
    const llm = new OpenAiProvider({ name: "power", baseUrl: `${server.url}/v1` });
    const text = await collect(
      llm.stream({ model: "tiny", messages: [{ role: "user", content: "Hello" }], maxTokens: 8 }),
    );
    assert(text.text.length > 0);
    // The fixture model samples, so it may end its answer before the limit; usage must say
    // which: all 8 tokens when cut at the limit, fewer only when the model stopped by itself.
    if (text.stopReason === "length") assertEquals(text.usage.outputTokens, 8);
    else {
      assertEquals(text.stopReason, "stop");
      assert(
        text.usage.outputTokens >= 1 && text.usage.outputTokens < 8,
        `${text.usage.outputTokens}`,
      );
    }
    const tools = [{
      name: "read",
      description: "Read a file",
      parameters: {
        type: "object",
        properties: { path: { type: "string", maxLength: 12 } },
        required: ["path"],
      },
    }];
    const called = await collect(llm.stream({
      model: "tiny",
      messages: [{ role: "user", content: "Read a.txt" }],
      tools,
      toolChoice: "required",
      maxTokens: 48,
    }));
    assertEquals(called.toolCalls.length >= 1, true);
    assertEquals(called.toolCalls[0].name, "read");
    assertEquals(typeof called.toolCalls[0].arguments.path, "string");
    assertEquals(called.stopReason, "tool_calls");
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
