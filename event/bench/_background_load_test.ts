import { assert, assertEquals } from "@a3s/common/testing";
import { startBackgroundLoad } from "./_background_load.ts";

/** This process's children running the busy loop. */
function busyChildren(): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const parent = Number(fields[1]);
      // The shell itself, not `nice` before it execs the shell: a child between the two reads
      // as neither for a moment, and counting `nice` let the wait below end before that moment
      // (the test then saw one loop of two, 33 ms in).
      const shell = cmdline.split("\0")[0].split("/").at(-1) === "sh";
      if (parent === Deno.pid && shell && cmdline.includes(`while kill -0 ${Deno.pid}`)) {
        found.push(Number(entry.name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

Deno.test("background load: N busy loops use CPU while running and are gone after stop", async () => {
  const load = startBackgroundLoad(2, 19);
  try {
    assertEquals(load.workers, 2);
    // `nice` execs the shell, which then loops: wait until both are the shell. On a loaded
    // machine a spawn can take a while; the wait ends as soon as both are there.
    const until = Date.now() + 30_000;
    while (busyChildren().length < 2 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const pids = busyChildren();
    assertEquals(pids.length, 2);
    const ticks = (pid: number) => {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { cpu: Number(fields[11]) + Number(fields[12]), nice: Number(fields[16]) };
    };
    const before = pids.map(ticks);
    // Niced to 19 they yield to everything else, so on a busy machine they may wait a while
    // for their first clock tick of CPU.
    let after = pids.map(ticks);
    const spinning = Date.now() + 30_000;
    while (!after.some((t, i) => t.cpu > before[i].cpu) && Date.now() < spinning) {
      await new Promise((r) => setTimeout(r, 50));
      after = pids.map(ticks);
    }
    assert(after.some((t, i) => t.cpu > before[i].cpu), "the loops used no CPU");
    for (const t of after) assertEquals(t.nice, 19);
  } finally {
    await load.stop();
  }
  assertEquals(busyChildren(), []);
});
