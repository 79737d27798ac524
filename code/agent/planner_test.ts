import { assert, assertEquals } from "@a3s/common/testing";
import { Agent } from "./agent.ts";
import { ScriptedProvider, type ScriptedReply } from "../llm/scripted.ts";
import type { ChatRequest } from "../llm/types.ts";
import type { AgentEvent } from "./events.ts";
import { planWaves, runPlan } from "./planner.ts";

function stepOf(req: ChatRequest): string {
  return /Your step \(([^)]+)\)/.exec(req.messages.find((m) => m.role === "user")!.content)?.[1] ??
    "";
}

async function withAgent(
  script: (req: ChatRequest) => ScriptedReply,
  fn: (agent: Agent) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-plan-" });
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: new ScriptedProvider([script]) },
  });
  try {
    await fn(agent);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function collectPlan(agent: Agent, goal: string, concurrency = 8, attempts = 2) {
  const events: AgentEvent[] = [];
  for await (
    const e of runPlan(agent.session(), goal, {
      maxConcurrency: concurrency,
      maxAttempts: attempts,
      retryDelayMs: 10,
    })
  ) events.push(e);
  return events;
}

Deno.test("planner: waves from the dependency graph; cycles and unknown ids rejected", () => {
  const plan = {
    steps: [
      { id: "a", description: "x", depends_on: [] },
      { id: "b", description: "x", depends_on: ["a"] },
      { id: "c", description: "x", depends_on: [] },
      { id: "d", description: "x", depends_on: ["b", "c"] },
    ],
  };
  assertEquals(planWaves(plan), [["a", "c"], ["b"], ["d"]]);
  let error = "";
  try {
    planWaves({
      steps: [{ id: "a", description: "x", depends_on: ["b"] }, {
        id: "b",
        description: "x",
        depends_on: ["a"],
      }],
    });
  } catch (e) {
    error = (e as Error).message;
  }
  assert(error.includes("cycle"), error);
});

Deno.test("planner: 8 independent steps of 200 ms finish in about one step's time", () => {
  const stepStarts: number[] = [];
  return withAgent((req) => {
    if (req.responseSchema) {
      return {
        text: JSON.stringify({
          steps: Array.from(
            { length: 8 },
            (_, i) => ({ id: `s${i + 1}`, description: `part ${i + 1}`, depends_on: [] }),
          ),
        }),
      };
    }
    stepStarts.push(performance.now());
    return { text: `did ${stepOf(req)}`, delayMs: 200 };
  }, async (agent) => {
    const stamps: number[] = [];
    const events: AgentEvent[] = [];
    for await (
      const e of runPlan(agent.session(), "eight parts", { maxConcurrency: 8, maxAttempts: 1 })
    ) {
      events.push(e);
      if (e.type === "plan_step") stamps.push(performance.now());
    }
    // The wave's wall time: from its first step starting to its last step finishing.
    const elapsed = stamps.at(-1)! - stamps[0];
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "end");
    assertEquals(done.result.text.split("\n\n").length, 8);
    // In parallel: every step's model call began before the first one's 200 ms were over (run
    // one after another, each would begin after the one before it ended). The wall time is only
    // reported, as it grows with the machine's load.
    const spread = Math.max(...stepStarts) - Math.min(...stepStarts);
    assertEquals(stepStarts.length, 8);
    assert(spread < 200, `the 8 steps began over ${spread.toFixed(0)} ms`);
    console.log(
      `plan of 8 × 200 ms steps: ${elapsed.toFixed(0)} ms wall (serial would be ≥ 1600 ms)`,
    );
    const plan = events.find((e) => e.type === "plan") as Extract<AgentEvent, { type: "plan" }>;
    assertEquals(plan.steps.length, 8);
    assertEquals(
      events.filter((e) => e.type === "plan_step" && e.step.status === "completed").length,
      8,
    );
  });
});

Deno.test("planner: a step never starts before its prerequisites complete; results flow to dependents", () => {
  const log: string[] = [];
  return withAgent((req) => {
    if (req.responseSchema) {
      return {
        text: JSON.stringify({
          steps: [
            { id: "fetch", description: "get data", depends_on: [] },
            { id: "count", description: "count it", depends_on: [] },
            { id: "report", description: "write report", depends_on: ["fetch", "count"] },
          ],
        }),
      };
    }
    const step = stepOf(req);
    log.push(`start ${step}`);
    const prompt = req.messages.find((m) => m.role === "user")!.content;
    const delay = step === "fetch" ? 150 : 30;
    setTimeout(() => log.push(`end ${step}`), delay - 5);
    return {
      text: step === "report"
        ? `report using [${prompt.includes("Result of step fetch:\nfetched 42") ? "fetch" : ""}]`
        : step === "fetch"
        ? "fetched 42"
        : "counted",
      delayMs: delay,
    };
  }, async (agent) => {
    const events = await collectPlan(agent, "report");
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assert(done.result.text.includes("report using [fetch]"), done.result.text);
    const reportStart = log.indexOf("start report");
    assert(
      reportStart > log.indexOf("end fetch") && reportStart > log.indexOf("end count"),
      log.join(", "),
    );
    const waves = events.filter((e) => e.type === "plan_step" && e.step.status === "running").map((
      e,
    ) => e.type === "plan_step" && `${e.step.id}@${e.wave}`);
    assertEquals(waves.sort(), ["count@1", "fetch@1", "report@2"]);
  });
});

Deno.test("planner: a failing step is retried, then re-planned", () => {
  let flaky = 0;
  let plans = 0;
  return withAgent((req) => {
    if (req.responseSchema) {
      plans++;
      return plans === 1
        ? {
          text: JSON.stringify({
            steps: [{ id: "a", description: "flaky" }, { id: "b", description: "always fails" }],
          }),
        }
        : {
          text: JSON.stringify({
            steps: [{ id: "b2", description: "other way", depends_on: ["a"] }],
          }),
        };
    }
    const step = stepOf(req);
    // A subagent fails when its model call fails; scripted failure is an unknown-provider style error.
    if (step === "a" && flaky++ === 0) throw new Error("transient");
    if (step === "b") throw new Error("broken");
    return { text: `ok ${step}` };
  }, async (agent) => {
    const events = await collectPlan(agent, "try", 4, 2);
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "end", done.result.error);
    assertEquals(plans, 2);
    assertEquals(
      events.filter((e) => e.type === "plan").map((e) => e.type === "plan" && e.revision),
      [1, 2],
    );
    const a = events.filter((e) =>
      e.type === "plan_step" && e.step.id === "a" && e.step.status === "completed"
    )[0];
    assert(a?.type === "plan_step" && a.step.attempts === 2);
    assert(done.result.text.includes("ok b2"), done.result.text);
  });
});
