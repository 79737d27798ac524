import { assertEquals } from "@a3s/common/testing";
import { decideFailure } from "./failure.ts";
import { JobCancelledError, JobTimeoutError, LaneClosedError } from "./errors.ts";
import { appendError, lastError } from "./error_history.ts";

const retry = { maxAttempts: 3, delayMs: 100 };
const failed = { error: new Error("boom"), cancelRequested: false, retry, attempt: 1, now: 1_000 };

Deno.test("a failed attempt is retried while attempts remain, then dead-lettered", () => {
  assertEquals(decideFailure(failed), { action: "retry", runAt: 1_100 });
  assertEquals(decideFailure({ ...failed, attempt: 3 }), { action: "dead_letter" });
  const picky = { ...retry, retryIf: (error: unknown) => !(error instanceof JobTimeoutError) };
  assertEquals(
    decideFailure({ ...failed, retry: picky, error: new JobTimeoutError(5) }),
    { action: "dead_letter" },
  );
});

Deno.test("cancellation wins over retry; a closing scheduler hands the job back", () => {
  assertEquals(decideFailure({ ...failed, cancelRequested: true }), { action: "cancel" });
  assertEquals(decideFailure({ ...failed, error: new JobCancelledError() }), { action: "cancel" });
  assertEquals(decideFailure({ ...failed, error: new LaneClosedError() }), { action: "hand_back" });
  assertEquals(
    decideFailure({ ...failed, error: new LaneClosedError(), cancelRequested: true }),
    { action: "cancel" },
  );
});

Deno.test("the error history appends without changing its input, and names the last error", () => {
  const first = appendError(undefined, 1, new JobTimeoutError(20), 5);
  const second = appendError(first, 2, "plain string", 9);
  assertEquals(first.length, 1);
  assertEquals(second, [
    { attempt: 1, code: "timeout", message: "job timed out after 20 ms", at: 5 },
    { attempt: 2, code: "error", message: "plain string", at: 9 },
  ]);
  const last = lastError(second);
  assertEquals([last.code, last.message], ["error", "plain string"]);
  assertEquals(lastError([]).code, "failed");
});
