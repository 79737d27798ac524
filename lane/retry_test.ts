import { assert, assertEquals } from "@a3s/common/testing";
import { retryDelay, shouldRetry, validateRetry } from "./retry.ts";

Deno.test("fixed backoff waits the same each time", () => {
  const policy = { maxAttempts: 5, backoff: "fixed" as const, delayMs: 250 };
  assertEquals([1, 2, 3, 4].map((n) => retryDelay(policy, n)), [250, 250, 250, 250]);
});

Deno.test("exponential backoff grows by the factor and stops at the cap", () => {
  const policy = {
    maxAttempts: 9,
    backoff: "exponential" as const,
    delayMs: 100,
    factor: 3,
    maxDelayMs: 2_000,
  };
  assertEquals([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n)), [100, 300, 900, 2_000, 2_000]);
});

Deno.test("jitter draws within [delay * (1 - jitter), delay]", () => {
  const policy = { maxAttempts: 3, backoff: "fixed" as const, delayMs: 1_000, jitter: 0.3 };
  assertEquals(retryDelay(policy, 1, () => 0), 700);
  assertEquals(retryDelay(policy, 1, () => 1), 1_000);
  for (let i = 0; i < 1_000; i++) {
    const delay = retryDelay(policy, 1);
    assert(delay >= 700 && delay <= 1_000, `delay ${delay}`);
  }
});

Deno.test("shouldRetry honours maxAttempts and the predicate", () => {
  const policy = {
    maxAttempts: 3,
    retryIf: (error: unknown) => (error as Error).message !== "fatal",
  };
  assertEquals(shouldRetry(policy, new Error("flaky"), 1), true);
  assertEquals(shouldRetry(policy, new Error("flaky"), 3), false);
  assertEquals(shouldRetry(policy, new Error("fatal"), 1), false);
  assertEquals(shouldRetry({ maxAttempts: 1 }, new Error("x"), 1), false);
});

Deno.test("validateRetry names the bad field", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ maxAttempts: 0 }, "retry.maxAttempts"],
    [{ maxAttempts: 2, delayMs: -1 }, "retry.delayMs"],
    [{ maxAttempts: 2, jitter: 2 }, "retry.jitter"],
    [{ maxAttempts: 2, backoff: "linear" }, "retry.backoff"],
  ];
  for (const [policy, field] of bad) {
    try {
      validateRetry(policy as never);
      throw new Error("accepted");
    } catch (error) {
      assertEquals((error as { field?: string }).field, field);
    }
  }
});
