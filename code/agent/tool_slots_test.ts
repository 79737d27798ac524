import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { z } from "zod";
import { Agent } from "./agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { defineTool, type Tool } from "../tools/tool.ts";
import { ToolSlots } from "./tool_slots.ts";

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("tool slots: at most `limit` at once, first come first served; nested work gives the slot back", async () => {
  const slots = new ToolSlots(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const job = async (i: number) => {
    const slot = await slots.acquire();
    order.push(i);
    running++;
    peak = Math.max(peak, running);
    await tick();
    running--;
    slot.release();
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(job));
  assertEquals([peak, order], [2, [0, 1, 2, 3, 4, 5]]);
  assertEquals(slots.running, 0);

  // Two holders whose nested calls need slots too: without giving theirs back they would wait
  // for each other forever.
  const outer = await Promise.all([slots.acquire(), slots.acquire()]);
  const nested = await Promise.all(
    outer.map((slot) =>
      slot.yieldDuring(() =>
        Promise.all([1, 2, 3].map(async () => {
          const inner = await slots.acquire();
          await tick();
          inner.release();
          return 1;
        }))
      )
    ),
  );
  assertEquals(nested.flat().length, 6);
  assertEquals(slots.running, 2);
  outer.forEach((slot) => slot.release());
  assertEquals(slots.running, 0);

  // A holder released while its nested work still runs (it timed out) hands its slot straight back.
  const early = await slots.acquire();
  let finish!: () => void;
  const pending = early.yieldDuring(() => new Promise<void>((resolve) => finish = resolve));
  await tick();
  early.release();
  finish();
  await pending;
  assertEquals(slots.running, 0);

  // A wait ends when the turn is cancelled.
  const full = [await slots.acquire(), await slots.acquire()];
  const cancel = new AbortController();
  const waiting = slots.acquire(cancel.signal);
  cancel.abort(new Error("cancelled"));
  await assertRejects(() => waiting, Error, "cancelled");
  full.forEach((slot) => slot.release());
  assertEquals(slots.running, 0);
});

/** A tool that records how many of its calls run at once. */
function probe(stats: { running: number; peak: number; calls: number }): Tool {
  return defineTool({
    name: "probe",
    description: "wait a little",
    effect: "read",
    input: z.object({}),
    async run() {
      stats.calls++;
      stats.running++;
      stats.peak = Math.max(stats.peak, stats.running);
      await tick(20);
      stats.running--;
      return "ok";
    },
  });
}

Deno.test("session: the tool calls of one reply, of batch and of subagents share the session's slots", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-slots-" });
  const stats = { running: 0, peak: 0, calls: 0 };
  const probes = (n: number) => Array.from({ length: n }, () => ({ name: "probe", arguments: {} }));
  const llm = new ScriptedProvider([(req) => {
    const system = req.messages[0].content;
    const last = req.messages.at(-1)!;
    if (last.role !== "user") return { text: "done" };
    // A subagent asks for 10 probes at once, as its parent does.
    if (!system.includes("parent-agent")) return { toolCalls: probes(10) };
    return {
      toolCalls: [
        ...probes(20),
        {
          name: "batch",
          arguments: { calls: Array.from({ length: 10 }, () => ({ tool: "probe", input: {} })) },
        },
        { name: "task", arguments: { agent: "general", prompt: "probe too" } },
        { name: "task", arguments: { agent: "general", prompt: "probe again" } },
      ],
    };
  }]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    system_prompt: "parent-agent",
  }, { providers: { s: llm }, tools: [probe(stats)], maxParallelTools: 3 });
  try {
    const result = await agent.session().send("go");
    assertEquals(result.stopReason, "end");
    assertEquals(stats.calls, 20 + 10 + 2 * 10);
    assertEquals(stats.peak, 3);
    // The session's own option wins over the agent's.
    stats.peak = 0;
    stats.calls = 0;
    await agent.session({ maxParallelTools: 1 }).send("go");
    assertEquals(stats.peak, 1);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session: a reply's calls run 8 at a time by default, results in the order asked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-slots-" });
  const stats = { running: 0, peak: 0, calls: 0 };
  const llm = new ScriptedProvider([
    { toolCalls: Array.from({ length: 30 }, () => ({ name: "probe", arguments: {} })) },
    (req) => ({
      text: String(req.messages.filter((m) => m.role === "tool" && m.content === "ok").length),
    }),
  ]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
    tools: [probe(stats)],
  });
  try {
    const result = await agent.session().send("go");
    assertEquals([result.text, stats.peak], ["30", 8]);
    const calls = llm.requests[1].messages.find((m) => m.role === "assistant")!;
    const ids = llm.requests[1].messages.filter((m) => m.role === "tool").map((m) =>
      m.role === "tool" ? m.toolCallId : ""
    );
    assert(calls.role === "assistant");
    assertEquals(ids, calls.toolCalls!.map((c) => c.id));
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});
