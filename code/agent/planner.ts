/**
 * Planning: the model returns a plan as a dependency graph of steps (structured output); steps
 * whose prerequisites are done run together in waves, as lane jobs under a concurrency limit.
 * A failing step is retried by lane; when retries run out the model re-plans the rest once.
 */
import { z } from "zod";
import { createLane } from "@a3s/lane";
import { jsonSchemaOf } from "../tools/tool.ts";
import { type AgentEvent, EventChannel, type PlanStepView, type TurnResult } from "./events.ts";
import type { AgentSession } from "./session.ts";
import type { Usage } from "../llm/types.ts";

/** One step of a plan. */
export interface PlanStep {
  /** The step's id, unique within the plan; other steps name it in `depends_on`. */
  id: string;
  /** What the step is to do; the task a session gets for it. */
  description: string;
  /** Ids of the steps whose results this one needs; it starts once they complete. */
  depends_on: string[];
  /** The subagent that runs the step; `general` when unset. */
  agent?: string;
}

/** A plan: steps and their dependencies. */
export interface Plan {
  /** The steps, in any order; `depends_on` orders them. */
  steps: PlanStep[];
}

const PlanSchemaObject = z.object({
  steps: z.array(z.object({
    id: z.string().min(1).max(40),
    description: z.string().min(1),
    depends_on: z.array(z.string()).default([]),
    agent: z.string().optional(),
  })).min(1).max(24),
});

/** The plan the model must return (its JSON Schema is the structured-output format). */
export const PlanSchema: z.ZodType<Plan> = PlanSchemaObject;

/** Options of a planned run. */
export interface PlanOptions {
  /** How many steps may run at once. */
  maxConcurrency: number;
  /** Attempts per step, the first included. */
  maxAttempts: number;
  /** Re-plans allowed after a step exhausts its attempts. */
  maxReplans?: number;
  /** Milliseconds between attempts. */
  retryDelayMs?: number;
}

/** Checks ids are unique, dependencies exist, and there is no cycle; returns the waves. */
export function planWaves(plan: Plan, done: ReadonlySet<string> = new Set()): string[][] {
  const ids = new Set(plan.steps.map((s) => s.id));
  if (ids.size !== plan.steps.length) throw new Error("plan: step ids must be unique");
  for (const s of plan.steps) {
    for (const d of s.depends_on) {
      if (!ids.has(d) && !done.has(d)) {
        throw new Error(`plan: step ${s.id} depends on unknown step ${d}`);
      }
    }
  }
  const waves: string[][] = [];
  const finished = new Set(done);
  let left = plan.steps.filter((s) => !finished.has(s.id));
  while (left.length) {
    const ready = left.filter((s) => s.depends_on.every((d) => finished.has(d))).map((s) => s.id);
    if (!ready.length) {
      throw new Error(
        `plan: steps ${left.map((s) => s.id).join(", ")} depend on each other in a cycle`,
      );
    }
    waves.push(ready);
    for (const id of ready) finished.add(id);
    left = left.filter((s) => !ready.includes(s.id));
  }
  return waves;
}

const PLANNER_PROMPT =
  "You are a planner. Split the goal into concrete steps that a worker agent can each do alone. Give each step a short id, a description with everything the worker needs, and depends_on listing the ids whose results it needs. Steps without dependencies between them run in parallel, so only add a dependency when one step truly needs another's result.";

/**
 * Drops dependencies on ids that name no step (and a step's dependency on itself): structured
 * output can bound a dependency's shape but not make it name a real step.
 */
export function withoutUnknownDependencies(
  plan: Plan,
  done: ReadonlySet<string> = new Set(),
): Plan {
  const ids = new Set(plan.steps.map((s) => s.id));
  return {
    steps: plan.steps.map((s) => ({
      ...s,
      depends_on: s.depends_on.filter((d) => d !== s.id && (ids.has(d) || done.has(d))),
    })),
  };
}

/**
 * The plan's JSON Schema for structured output, with `agent` limited to this session's
 * subagents and text lengths bounded, so even a small model's plan is valid and runnable.
 */
function planJsonSchema(session: AgentSession): Record<string, unknown> {
  const schema = jsonSchemaOf(PlanSchema) as {
    properties: { steps: { items: { properties: Record<string, Record<string, unknown>> } } };
  };
  const step = schema.properties.steps.items.properties;
  step.agent = { type: "string", enum: session.subagentNames() };
  step.id = { ...step.id, maxLength: 24 };
  step.description = { ...step.description, maxLength: 300 };
  return schema as unknown as Record<string, unknown>;
}

async function askForPlan(
  session: AgentSession,
  request: string,
  signal: AbortSignal,
  usage: Usage,
  done: ReadonlySet<string> = new Set(),
): Promise<Plan> {
  // Checked as every model call of the session is: a local-only session plans only locally.
  const { provider, model, config } = session.modelForCall();
  let lastError = "";
  for (let attempt = 0; attempt < 2; attempt++) {
    let text = "";
    for await (
      const e of provider.stream({
        model,
        messages: [
          { role: "system", content: PLANNER_PROMPT },
          {
            role: "user",
            content: lastError
              ? `${request}\n\nYour previous plan was invalid: ${lastError}`
              : request,
          },
        ],
        responseSchema: { name: "plan", schema: planJsonSchema(session) },
        maxTokens: config.max_tokens,
        signal,
      })
    ) {
      if (e.type === "text") text += e.delta;
      else if (e.type === "usage") {
        usage.inputTokens += e.usage.inputTokens;
        usage.outputTokens += e.usage.outputTokens;
      }
    }
    try {
      const plan = withoutUnknownDependencies(PlanSchema.parse(JSON.parse(text)), done);
      planWaves(plan, done);
      return plan;
    } catch (error) {
      lastError = error instanceof z.ZodError
        ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        : (error as Error).message;
    }
  }
  throw new Error(`the model did not produce a valid plan: ${lastError}`);
}

/**
 * Plans `goal` and runs it, yielding plan events, step progress, the workers' events as
 * `subagent` events, and a final `done` whose text joins the step results.
 */
export async function* runPlan(
  session: AgentSession,
  goal: string,
  options: PlanOptions,
  signal?: AbortSignal,
): AsyncGenerator<AgentEvent> {
  const channel = new EventChannel<AgentEvent>();
  const controller = new AbortController();
  const linked = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  session.setEmitter((e) => channel.push(e));
  const lane = createLane({
    maxConcurrency: options.maxConcurrency,
    lanes: { skill: { maxConcurrency: options.maxConcurrency } },
  });
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  const views = new Map<string, PlanStepView>();
  const results = new Map<string, string>();
  let revision = 0;
  let stepsRun = 0;

  const work = (async (): Promise<TurnResult> => {
    let plan = await askForPlan(session, `Goal: ${goal}`, linked, usage);
    let replans = 0;
    while (true) {
      revision++;
      for (const s of plan.steps) {
        views.set(s.id, {
          id: s.id,
          description: s.description,
          dependsOn: s.depends_on,
          status: results.has(s.id) ? "completed" : "pending",
          attempts: 0,
        });
      }
      channel.push({
        type: "plan",
        goal,
        steps: plan.steps.map((s) => ({ ...views.get(s.id)! })),
        revision,
      });
      const waves = planWaves(plan, new Set(results.keys()));
      let failed: { id: string; error: string } | undefined;
      for (let w = 0; w < waves.length && !failed; w++) {
        const jobs = await Promise.all(waves[w].map((id) => {
          const step = plan.steps.find((s) => s.id === id)!;
          const view = views.get(id)!;
          const context = step.depends_on.map((d) => `Result of step ${d}:\n${results.get(d)}`)
            .join("\n\n");
          const prompt = `Overall goal: ${goal}\n\nYour step (${id}): ${step.description}${
            context ? `\n\n${context}` : ""
          }`;
          return lane.submit(session.id, "skill", async (ctx) => {
            view.status = "running";
            view.attempts = ctx.attempt;
            channel.push({ type: "plan_step", step: { ...view }, wave: w + 1 });
            stepsRun++;
            return await session.runSubagent(
              step.agent ?? "general",
              prompt,
              AbortSignal.any([ctx.signal, linked]),
            );
          }, {
            retry: {
              maxAttempts: options.maxAttempts,
              backoff: "exponential",
              delayMs: options.retryDelayMs ?? 200,
            },
          });
        }));
        const settled = await Promise.allSettled(jobs.map((j) => j.result));
        settled.forEach((r, i) => {
          const id = waves[w][i];
          const view = views.get(id)!;
          if (r.status === "fulfilled") {
            view.status = "completed";
            view.result = String(r.value);
            results.set(id, String(r.value));
          } else {
            view.status = "failed";
            view.result = (r.reason as Error)?.message ?? String(r.reason);
            failed ??= { id, error: view.result };
          }
          channel.push({ type: "plan_step", step: { ...view }, wave: w + 1 });
        });
        if (linked.aborted) break;
      }
      if (linked.aborted) {
        return { text: "", stopReason: "cancelled", steps: stepsRun, toolCalls: 0, usage };
      }
      if (!failed) break;
      if (replans >= (options.maxReplans ?? 1)) {
        return {
          text: "",
          stopReason: "error",
          steps: stepsRun,
          toolCalls: 0,
          usage,
          error: `step ${failed.id} failed: ${failed.error}`,
        };
      }
      replans++;
      const doneList = [...results.entries()].map(([id, r]) =>
        `- ${id}: done. Result: ${r.slice(0, 500)}`
      ).join("\n") || "(none)";
      plan = await askForPlan(
        session,
        `Goal: ${goal}\n\nAlready done (refer to these ids in depends_on if needed, do not repeat them):\n${doneList}\n\nStep ${failed.id} failed: ${failed.error}\nPlan the remaining work another way.`,
        linked,
        usage,
        new Set(results.keys()),
      );
    }
    const order = [...views.values()].filter((v) => results.has(v.id));
    return {
      text: order.map((v) => `## ${v.id}: ${v.description}\n${results.get(v.id)}`).join("\n\n"),
      stopReason: "end",
      steps: stepsRun,
      toolCalls: 0,
      usage,
    };
  })().then(
    (result) => channel.push({ type: "done", result }),
    (error) => {
      const message = (error as Error)?.message ?? String(error);
      channel.push({ type: "error", code: "plan_failed", message });
      channel.push({
        type: "done",
        result: {
          text: "",
          stopReason: "error",
          steps: stepsRun,
          toolCalls: 0,
          usage,
          error: message,
        },
      });
    },
  ).finally(() => channel.close());

  let finished = false;
  try {
    for await (const e of channel) {
      yield e;
      if (e.type === "done") finished = true;
    }
  } finally {
    if (!finished) controller.abort();
    await work;
    await lane.close();
  }
}
