import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { Agent, type AgentOptions } from "./agent.ts";
import type { AgentEvent } from "./events.ts";
import { runPlan } from "./planner.ts";
import type { AgentConfigInput } from "../config/schema.ts";
import type { Message } from "../llm/types.ts";
import { OpenAiProvider } from "../providers/openai.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { scriptedOpenAiServer, type ScriptedServer } from "../_testing/servers.ts";

const CARD = "4111 1111 1111 1111";

type Body = Record<string, unknown>;
type WireMessage = { role: string; content: string | null };

const lastMessage = (body: Body) => (body.messages as WireMessage[]).at(-1)!;
const lastUser = (body: Body) =>
  (body.messages as WireMessage[]).findLast((m) => m.role === "user")?.content ?? "";

/**
 * The model on this machine: hands a message about a card to the `cloud-helper` subagent, and
 * answers with what the subagent (or the refusal) said.
 */
function localModel(): ScriptedServer {
  return scriptedOpenAiServer((body) => {
    if (body.response_format) {
      return {
        text: JSON.stringify({
          steps: [{ id: "check", description: `check ${CARD}`, agent: "cloud-helper" }],
        }),
      };
    }
    const last = lastMessage(body);
    if (last.role === "tool") return { text: `helper: ${last.content}` };
    const user = lastUser(body);
    return user.includes("card")
      ? {
        toolCalls: [{
          name: "task",
          arguments: { agent: "cloud-helper", prompt: `check this: ${user}` },
        }],
      }
      : { text: "hi" };
  });
}

/**
 * An agent whose default model is on loopback (`local/m`) and whose subagent `cloud-helper` runs
 * `cloud/big`, a provider the config places off this machine. Its requests go to `remote` (a
 * server on loopback standing in for the cloud API), so every request that would have left the
 * machine is counted there.
 */
async function agentWithCloudHelper(
  dir: string,
  local: ScriptedServer,
  remote: ScriptedServer,
  config: Partial<AgentConfigInput> = {},
  options: AgentOptions = {},
): Promise<Agent> {
  return await Agent.fromConfig({
    workspace: `${dir}/ws`,
    default_model: "local/m",
    box: { driver: "process" },
    tools: { enabled: ["task", "memory"] },
    providers: [
      { name: "local", base_url: local.url, models: [{ id: "m", context_window: 32768 }] },
      {
        name: "cloud",
        base_url: "https://cloud.example.com/v1",
        api_key: "k",
        max_attempts: 1,
        models: [{ id: "big", context_window: 32768 }],
      },
    ],
    agents: [{
      name: "cloud-helper",
      description: "a bigger model in the cloud",
      model: "cloud/big",
      tools: [],
      max_steps: 2,
      prompt: "help",
    }],
    ...config,
  }, {
    ...options,
    providers: {
      cloud: new OpenAiProvider({ name: "cloud", baseUrl: remote.url, maxAttempts: 1 }),
      ...options.providers,
    },
  });
}

Deno.test("local-only: a subagent on a remote model is refused, and the session stays local-only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-local-only-" });
  const local = localModel();
  const remote = scriptedOpenAiServer(() => ({ text: "checked in the cloud" }));
  const agent = await agentWithCloudHelper(dir, local, remote);
  try {
    const session = agent.session();
    const events: AgentEvent[] = [];
    for await (
      const e of session.stream(`my card is ${CARD}, have it checked`, { localOnly: true })
    ) events.push(e);
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "end");
    // The model reads why, as the task call's error; nothing reached the remote provider.
    assert(done.result.text.includes("subagent cloud-helper was not started"), done.result.text);
    assert(done.result.text.includes("may only go to a local model"), done.result.text);
    const end = events.find((e) => e.type === "tool_end") as Extract<AgentEvent, {
      type: "tool_end";
    }>;
    assertEquals([end.tool, end.isError], ["task", true]);
    assertEquals(remote.bodies.length, 0);
    assertEquals(session.localOnly, true);

    // Its history holds the card: a later turn, even one not marked local-only, stays local.
    const later = await session.send("about that card again", { localOnly: false });
    assert(later.text.includes("was not started"), later.text);
    assertEquals(remote.bodies.length, 0);

    // A session whose data may leave still uses the subagent.
    const open = await agent.session().send("is this card test data?");
    assertEquals(open.text, "helper: checked in the cloud");
    assertEquals(remote.bodies.length, 1);
    assert(!JSON.stringify(remote.bodies).includes(CARD));
  } finally {
    await agent.close();
    await local.close();
    await remote.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local-only: a turn on a remote model is blocked before any call, compaction's summary included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-local-only-" });
  const local = localModel();
  const remote = scriptedOpenAiServer(() => ({ text: "a summary" }));
  const agent = await agentWithCloudHelper(dir, local, remote, {
    providers: [
      { name: "local", base_url: local.url, models: [{ id: "m", context_window: 32768 }] },
      {
        name: "cloud",
        base_url: "https://cloud.example.com/v1",
        max_attempts: 1,
        // A window this history overfills: the turn would summarize it first.
        models: [{ id: "big", context_window: 4000, max_tokens: 256 }],
      },
    ],
  });
  try {
    const earlier: Message[] = [{ role: "system", content: "You help." }];
    for (let i = 0; i < 6; i++) {
      earlier.push({ role: "user", content: `card ${CARD} ${"detail ".repeat(800)}` });
      earlier.push({ role: "assistant", content: "noted" });
    }
    const session = agent.session({ model: "cloud/big", messages: earlier, ephemeral: true });
    const events: AgentEvent[] = [];
    for await (const e of session.stream("summarize my cards", { localOnly: true })) {
      events.push(e);
    }
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "blocked");
    assert(done.result.error!.includes("model 'cloud/big' runs off this machine"));
    assert(events.some((e) => e.type === "error" && e.code === "local_only"));
    assert(!events.some((e) => e.type === "compaction"));
    assertEquals(remote.bodies.length, 0);

    // The same history may be summarized by that model when the data may leave.
    const open = agent.session({ model: "cloud/big", messages: earlier, ephemeral: true });
    const compacted: AgentEvent[] = [];
    for await (const e of open.stream("summarize")) compacted.push(e);
    assert(compacted.some((e) => e.type === "compaction"));
    assert(remote.bodies.length >= 2);
  } finally {
    await agent.close();
    await local.close();
    await remote.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local-only: a plan's planner and its steps stay on local models", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-local-only-" });
  const local = localModel();
  const remote = scriptedOpenAiServer(() => ({ text: "done in the cloud" }));
  const agent = await agentWithCloudHelper(dir, local, remote);
  try {
    const run = async (localOnly: boolean, model?: string) => {
      const session = agent.session({ localOnly, ...(model ? { model } : {}) });
      let result: Extract<AgentEvent, { type: "done" }>["result"] | undefined;
      for await (
        const e of runPlan(session, `check the card ${CARD}`, {
          maxConcurrency: 2,
          maxAttempts: 1,
          maxReplans: 0,
        })
      ) if (e.type === "done") result = e.result;
      return result!;
    };
    // The local planner picks the cloud subagent for the step: the step is refused.
    const stepRefused = await run(true);
    assertEquals(stepRefused.stopReason, "error");
    assert(stepRefused.error!.includes("subagent cloud-helper was not started"));
    // A remote planner is not even asked.
    const plannerRefused = await run(true, "cloud/big");
    assertEquals(plannerRefused.stopReason, "error");
    assert(plannerRefused.error!.includes("runs off this machine"));
    assertEquals(remote.bodies.length, 0);
    // Without local-only the step runs in the cloud.
    const open = await run(false);
    assertEquals(open.stopReason, "end");
    assertEquals(remote.bodies.length, 1);
  } finally {
    await agent.close();
    await local.close();
    await remote.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local-only: memory is not sent to an embedding model off this machine", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-local-only-" });
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  const embedded: string[] = [];
  const llm = new ScriptedProvider([
    (req) =>
      req.messages.at(-1)!.role === "tool" ? { text: "saved" } : {
        toolCalls: [{
          name: "memory",
          arguments: { action: "save", content: req.messages.at(-1)!.content },
        }],
      },
  ]);
  const agent = await Agent.fromConfig({
    workspace: `${dir}/ws`,
    // power with no URL: in process, on this machine.
    default_model: "power/m",
    providers: [{ name: "power", models: [{ id: "m" }] }],
    tools: { enabled: ["memory"] },
  }, {
    store,
    providers: { power: llm },
    // An embedder the agent cannot place counts as remote.
    embed: (texts) => {
      embedded.push(...texts);
      return Promise.resolve(texts.map(() => [1, 0]));
    },
  });
  try {
    assertEquals(agent.embeddingsLocal, false);
    const kept = await agent.session().send(`card ${CARD}`, { localOnly: true });
    assertEquals(kept.text, "saved");
    assertEquals(embedded, []);
    // Saved all the same, and found by keywords.
    const found = await agent.memory!.keywordOnly!()!.search("card", { limit: 5 });
    assert(found.some((r) => r.content.includes(CARD)));
    await agent.session().send("the sky is blue");
    assertEquals(embedded, ["the sky is blue"]);
  } finally {
    await agent.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("turn options: an aborted signal stops a running turn (model call and command); one aborted before runs nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-local-only-" });
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "bash", arguments: { command: "sleep 20" } }] },
    { text: "never" },
  ]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    box: { driver: "process" },
  }, { providers: { s: llm } });
  try {
    const session = agent.session();
    const controller = new AbortController();
    const started = performance.now();
    const events: AgentEvent[] = [];
    for await (const e of session.stream("sleep", { signal: controller.signal })) {
      events.push(e);
      if (e.type === "tool_start") setTimeout(() => controller.abort(), 50);
    }
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "cancelled");
    assert(performance.now() - started < 5_000);
    assertEquals(session.busy, false);

    // A slow model call is cut short too.
    const slow = new ScriptedProvider([{ text: "late", delayMs: 20_000 }]);
    const slowAgent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
      providers: { s: slow },
    });
    try {
      const t0 = performance.now();
      const result = await slowAgent.session().send("hi", { signal: AbortSignal.timeout(50) });
      assertEquals(result.stopReason, "cancelled");
      assert(performance.now() - t0 < 5_000);
    } finally {
      await slowAgent.close();
    }

    const before = llm.requests.length;
    const fresh = agent.session();
    const aborted = await fresh.send("anything", { signal: AbortSignal.abort() });
    assertEquals(aborted.stopReason, "cancelled");
    assertEquals(llm.requests.length, before);
    assertEquals(fresh.history.length, 0);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});
