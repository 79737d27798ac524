/**
 * The runnable examples run offline: each agent in examples/ (a coding agent, a research agent
 * on search's local index, a planner with parallel subagents) is run by `a3s code run` on the
 * shipped default model in process, with Deno's network permission limited to this host, so a
 * call to anywhere else would fail the run. The tiny model's answers are not judged here (that
 * is code/bench/default_model_eval.ts); the loop must complete: the model is called, its tool
 * calls are executed, and the turn or plan ends without an error.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../common/_assert.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** Everything the CLI needs, and no network beyond loopback. */
const OFFLINE = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
  "--allow-net=127.0.0.1,localhost",
];

interface Event {
  type: string;
  tool?: string;
  result?: { stopReason: string; error?: string; usage: { inputTokens: number } };
  steps?: unknown[];
}

async function a3s(home: string, args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...OFFLINE, `${ROOT}mod.ts`, ...args],
    // No A3S_POWER_URL: the examples' `power` provider has no URL, so power runs in process.
    env: { A3S_HOME: home, A3S_POWER_URL: "", A3S_LOG_LEVEL: "warn" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(150_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return {
    code: out.code,
    out: out.code === 0 ? text : text + new TextDecoder().decode(out.stderr),
  };
}

/** Runs `example` from a copy in a temp dir (its workspace is its own folder), as `--json` events. */
async function runExample(
  example: string,
  task: string[],
  prepare?: (dir: string, home: string) => Promise<void>,
) {
  const home = await Deno.makeTempDir({ prefix: `a3s-example-${example}-` });
  const dir = join(home, example);
  await new Deno.Command("cp", { args: ["-r", `${ROOT}examples/${example}`, dir] }).output();
  try {
    await prepare?.(dir, home);
    const run = await a3s(home, ["code", "run", join(dir, "agent.hcl"), ...task, "--json"]);
    assertEquals(run.code, 0, run.out);
    const events = run.out.trim().split("\n").map((line) => JSON.parse(line) as Event);
    const done = events.at(-1)!;
    assertEquals(done.type, "done", run.out.slice(-2000));
    assert(done.result!.stopReason !== "error", `${example}: ${done.result!.error}`);
    assert(done.result!.usage.inputTokens > 0, `${example}: the model was never called`);
    return events;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("examples: the coding agent runs offline on the default model", async () => {
  const events = await runExample("coding-agent", ["Show the contents of agent.hcl."]);
  // Each tool call the model made was executed and answered.
  const starts = events.filter((e) => e.type === "tool_start").length;
  assertEquals(events.filter((e) => e.type === "tool_end").length, starts);
});

Deno.test("examples: the research agent runs offline on search's local index", async () => {
  await runExample("research-agent", ["Search the web for priority lanes."], async (dir, home) => {
    const indexed = await a3s(home, ["search", "index", "add", join(dir, "notes")]);
    assertEquals(indexed.code, 0, indexed.out);
    assert(indexed.out.includes("2 added"), indexed.out);
  });
});

Deno.test("examples: the planner plans and runs its steps as subagents, offline", async () => {
  const events = await runExample("planner", [
    "--plan",
    "Count the files here and summarize agent.hcl.",
  ]);
  const plan = events.find((e) => e.type === "plan");
  assert(plan && plan.steps!.length > 0, "no plan");
  assert(events.some((e) => e.type === "plan_step"), "no step ran");
});
