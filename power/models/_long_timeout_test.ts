import { assert } from "@a3s/common/testing";
import { MAX_TIMER_MS, setLongTimeout } from "./_long_timeout.ts";

Deno.test("a timer past the 24.8-day limit waits instead of firing at once", async () => {
  let fired = false;
  const cancel = setLongTimeout(() => (fired = true), MAX_TIMER_MS * 2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert(!fired, "a 49-day timer fired at once");
  cancel();

  let short = false;
  setLongTimeout(() => (short = true), 10);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert(short, "a 10 ms timer did not fire");
});
