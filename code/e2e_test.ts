/**
 * End to end on our own stack: serve with power (the shipped default model) and code; a client
 * opens a session of the default agent over HTTP and runs turns whose events stream back as
 * SSE. The tiny model's choices are not always right, so this checks every structural promise:
 * the model is really called, each tool call it makes is parsed, checked and executed in the
 * sandbox with its result fed back, and each turn ends cleanly.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "@a3s/power/routes";
import { codeModule } from "./routes.ts";
import { readSse } from "./llm/sse.ts";
import type { AgentEvent } from "./agent/events.ts";

const TOKEN = "code-e2e-token-0123456789abcdef0";

Deno.test("e2e: the default agent on power's default model runs tool-using turns over HTTP", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-e2e-" });
  await Deno.mkdir(`${home}/workspace`);
  await Deno.writeTextFile(`${home}/workspace/notes.txt`, "the secret word is apple\n");
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: { tokens: [{ token: TOKEN, scopes: ["code:exec", "code:read"] }] },
    }),
  );
  const modules = [powerModule(), codeModule()];
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 }, modules }),
    modules,
    logger: createLogger("silent"),
  });
  const call = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    const session = await (await call("/code/v1/sessions", {})).json();
    assertEquals(session.model, "a3s-default");
    assertEquals(session.tools, ["read", "write", "bash"]);
    let toolCalls = 0;
    let outputTokens = 0;
    let compactions = 0;
    for (
      const prompt of [
        "Show the contents of notes.txt.",
        "Run `ls -la`.",
        "Write hello to out.txt.",
      ]
    ) {
      const events: AgentEvent[] = [];
      for await (
        const sse of readSse(
          (await call(`/code/v1/sessions/${session.id}/messages`, { prompt })).body!,
        )
      ) {
        events.push(JSON.parse(sse.data));
      }
      const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
      assertEquals(done.type, "done");
      assert(
        done.result.stopReason === "end" || done.result.stopReason === "max_steps",
        JSON.stringify(done.result),
      );
      const starts = events.filter((e) => e.type === "tool_start").map((e) =>
        e.type === "tool_start" && e.callId
      );
      const ends = events.filter((e) => e.type === "tool_end").map((e) =>
        e.type === "tool_end" && e.callId
      );
      assertEquals(ends, starts);
      toolCalls += starts.length;
      compactions += events.filter((e) => e.type === "compaction").length;
      outputTokens += done.result.usage.outputTokens;
    }
    // The model generated text and called tools; every call went through the loop.
    assert(outputTokens > 0);
    assert(toolCalls > 0, "the default model made no tool call in three tool-shaped prompts");
    const history = await (await fetch(`${server.url}/code/v1/sessions/${session.id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })).json();
    // The last turn is always kept; older ones are dropped only when the 2,048-token window
    // filled (how much the model wrote decides that), and then a compaction event says so.
    const users = history.messages.filter((m: { role: string }) => m.role === "user");
    assertEquals(users.at(-1).content, "Write hello to out.txt.");
    assert(compactions > 0 || users.length === 3, `${users.length} turns, no compaction`);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
