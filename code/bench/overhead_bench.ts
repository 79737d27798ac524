/**
 * Framework overhead per agent turn and per tool call, against the same loop written directly
 * on the `openai` client. Both talk to one scripted OpenAI-compatible server on a free port
 * (a real HTTP server replaying a tool call, then an answer), so only client-side code differs.
 *
 *   deno bench -A code/bench/overhead_bench.ts
 */
import OpenAI from "openai";
import { Agent } from "../mod.ts";
import { scriptedOpenAiServer } from "../_testing/servers.ts";

const dir = await Deno.makeTempDir({ prefix: "a3s-code-bench-" });
await Deno.writeTextFile(`${dir}/a.txt`, "alpha\n");
// Turn = model asks for `read a.txt`, gets the result, answers. Two requests per turn.
const server = scriptedOpenAiServer((body) => {
  const messages = body.messages as { role: string }[];
  return messages.at(-1)!.role === "tool"
    ? { text: "The file says alpha." }
    : { toolCalls: [{ name: "read", arguments: { path: "a.txt" } }] };
});

const agent = await Agent.fromConfig({
  workspace: dir,
  default_model: "bench/m",
  providers: [{
    name: "bench",
    base_url: server.url,
    models: [{ id: "m", context_window: 32768 }],
  }],
  box: { driver: "process" },
});

// The baseline sends the same system prompt and the same 18 tool schemas, so both requests
// weigh the same on the wire and only client-side work differs.
const probe = agent.session({ ephemeral: true });
await probe.send("warm up");
const SYSTEM = probe.history[0].content;
const TOOLS = probe.toolSpecs.map((t) => ({
  type: "function" as const,
  function: { name: t.name, description: t.description, parameters: t.parameters },
}));
const client = new OpenAI({ baseURL: server.url, apiKey: "unused" });

/** The baseline: the same turn on the openai client, streaming, with a plain file read. */
async function openaiTurn(): Promise<string> {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: "what is in a.txt?" },
  ];
  for (let step = 0; step < 4; step++) {
    const stream = await client.chat.completions.create({
      model: "m",
      messages,
      tools: TOOLS,
      stream: true,
    });
    let text = "";
    const calls = new Map<number, { id: string; name: string; args: string }>();
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      text += delta?.content ?? "";
      for (const c of delta?.tool_calls ?? []) {
        const entry = calls.get(c.index) ?? { id: "", name: "", args: "" };
        entry.id ||= c.id ?? "";
        entry.name += c.function?.name ?? "";
        entry.args += c.function?.arguments ?? "";
        calls.set(c.index, entry);
      }
    }
    if (!calls.size) return text;
    messages.push({
      role: "assistant",
      content: null,
      tool_calls: [...calls.values()].map((c) => ({
        id: c.id,
        type: "function" as const,
        function: { name: c.name, arguments: c.args },
      })),
    });
    for (const c of calls.values()) {
      const { path } = JSON.parse(c.args);
      messages.push({
        role: "tool",
        tool_call_id: c.id,
        content: await Deno.readTextFile(`${dir}/${path}`),
      });
    }
  }
  return "";
}

Deno.bench("turn with one tool call: openai client loop (baseline)", {
  group: "turn",
  baseline: true,
}, async () => {
  await openaiTurn();
});

Deno.bench("turn with one tool call: a3s code agent (permissions, hooks, guard, audit, history)", {
  group: "turn",
}, async () => {
  const result = await agent.session().send("what is in a.txt?");
  if (result.text !== "The file says alpha.") throw new Error(result.text);
});

Deno.bench("tool call alone: a3s code (validate, permission, hooks, run, guard, audit)", {
  group: "tool",
}, async () => {
  const session = agent.session({ ephemeral: true });
  await session.callTool("read", { path: "a.txt" });
});

Deno.bench(
  "tool call alone: plain Deno.readTextFile (baseline)",
  { group: "tool", baseline: true },
  async () => {
    await Deno.readTextFile(`${dir}/a.txt`);
  },
);

globalThis.addEventListener("unload", () => {
  void agent.close();
  void server.close();
});
