import { assert, assertEquals } from "@a3s/common/testing";
import { Attempt, type AttemptOwner } from "./attempt.ts";
import { JobCancelledError, JobTimeoutError } from "./errors.ts";
import type { JobFunction } from "./types.ts";

const subject = { id: "j1", session: "s", lane: "query" as const, kind: "k", payload: 7 };

function run(fn: JobFunction, timeoutMs?: number) {
  const outcomes: [boolean, unknown][] = [];
  const progress: unknown[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const owner: AttemptOwner<typeof subject> = {
    attemptProgress: (_, value) => progress.push(value),
    attemptDone: (_, ok, value) => {
      outcomes.push([ok, value]);
      resolve();
    },
  };
  const attempt = new Attempt(subject, 1);
  attempt.run(fn, timeoutMs, owner);
  return { attempt, outcomes, progress, done: promise };
}

Deno.test("an attempt reports a sync value, an async value or a throw exactly once", async () => {
  const sync = run((ctx) => (ctx.payload as number) * 2);
  assertEquals(sync.outcomes, [[true, 14]]);
  const later = run(async (ctx) => {
    ctx.progress("half");
    await Promise.resolve();
    return ctx.id;
  });
  await later.done;
  assertEquals(later.outcomes, [[true, "j1"]]);
  assertEquals(later.progress, ["half"]);
  const thrown = run(() => {
    throw new RangeError("bad");
  });
  assertEquals(thrown.outcomes.length, 1);
  assertEquals((thrown.outcomes[0][1] as Error).name, "RangeError");
});

Deno.test("a timeout aborts the signal; the late result is ignored", async () => {
  let signal: AbortSignal | undefined;
  const slow = run(async (ctx) => {
    signal = ctx.signal;
    await new Promise((resolve) => setTimeout(resolve, 40));
    return "late";
  }, 10);
  await slow.done;
  assert(slow.outcomes[0][1] instanceof JobTimeoutError);
  assert(signal?.aborted);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(slow.outcomes.length, 1);
});

Deno.test("abort settles a running attempt with the reason, once", async () => {
  const pending = run(() => new Promise(() => {}));
  pending.attempt.abort(new JobCancelledError());
  pending.attempt.abort(new JobCancelledError("twice"));
  await pending.done;
  assertEquals(pending.outcomes.length, 1);
  assertEquals((pending.outcomes[0][1] as Error).message, "job was cancelled");
  assertEquals(pending.attempt.running, false);
});

/** Like `run`, with a grace period for aborted handlers. */
function runWithGrace(fn: JobFunction, graceMs: number) {
  const outcomes: [boolean, unknown][] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const attempt = new Attempt(subject, 1);
  attempt.run(fn, undefined, {
    attemptProgress: () => {},
    attemptDone: (_, ok, value) => {
      outcomes.push([ok, value]);
      resolve();
    },
  }, graceMs);
  return { attempt, outcomes, done: promise };
}

Deno.test("an aborted attempt reports its reason once the handler settles, within the grace", async () => {
  const { promise: settle, resolve: settleHandler } = Promise.withResolvers<string>();
  const slow = runWithGrace(() => settle, 10_000);
  slow.attempt.abort(new JobCancelledError());
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(slow.outcomes, [], "no outcome while the handler still runs");
  assertEquals([slow.attempt.running, slow.attempt.aborted], [true, true]);
  settleHandler("finished anyway");
  await slow.done;
  assertEquals(slow.outcomes.length, 1);
  assert(slow.outcomes[0][1] instanceof JobCancelledError, "the abort's reason, not the value");
  assertEquals(slow.attempt.running, false);
});

Deno.test("an aborted handler that never settles is reported after the grace period", async () => {
  const hung = runWithGrace(() => new Promise(() => {}), 30);
  const at = performance.now();
  hung.attempt.abort(new JobTimeoutError(5));
  await hung.done;
  assert(performance.now() - at >= 25, "reported before the grace period ended");
  assert(hung.outcomes[0][1] instanceof JobTimeoutError);
});
