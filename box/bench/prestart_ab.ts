/**
 * The prestarted launcher, A/B, in one interleaved run: each round times bare bubblewrap and an
 * attached `box run busybox echo x` (call to first byte of output) in the ways below, each
 * sample 150 ms after the previous one ended, in an order that rotates each round:
 * - off: a long-lived manager without prestarting (the code before it), 150 ms after the last
 *   run as (b) is, and its back-to-back
 *   pair (a second run started the moment the first one's first byte arrived, both boxes alive);
 * - first, off: a manager opened for this sample without prestarting, its first run;
 * - (a) first: a manager opened for this sample, prestarting on, its first launcher made as
 *   `serve`'s runtime makes it when it opens (`prestartFirst`), its first run 150 ms later (the
 *   agent build and image lookups are already warm in this process); "first, off" waits alike;
 * - (b) ready: the long-lived prestarting manager, 150 ms after its last run, so the refill
 *   that run began has finished;
 * - (c) back-to-back: the same manager again, started the moment (b)'s first byte arrived: the
 *   driver makes no launcher while its starts are not quiet, so none is ready and it runs the
 *   usual way, against "off"'s own back-to-back pair.
 * - the same (b) and (c) on a manager keeping two launchers waiting (`prestartPool: 2`, as
 *   `serve` runs): its (c) takes the second launcher.
 * Prints the median of each and its ratio to bare bubblewrap's median, with how many samples
 * actually used a prestarted launcher, and the load average before and after.
 *
 * Run: deno run -A box/bench/prestart_ab.ts [ROUNDS]
 */
import { join } from "node:path";
import { addBusybox, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { bareBwrapFirstByte } from "./_bare_bwrap.ts";

const rounds = Number(Deno.args[0] ?? 30);
const AGENT_CACHE = "/tmp/a3s-box-bench-agent";
const home = await testHome();
await addBusybox(home.images);
const rootfs = await home.images.rootfs((await home.images.resolve("busybox", "image")).id);

/** A manager on the test home with one namespace driver (`pool` launchers kept waiting). */
async function openManager(prestart: boolean, pool = 1) {
  const driver = new NamespaceDriver({ agentCacheDir: AGENT_CACHE, prestart, prestartPool: pool });
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [driver],
  });
  return { driver, boxes };
}

/** Milliseconds from `run` to the first byte of attached output; the box id for removal. */
async function attachedRun(boxes: BoxManager): Promise<{ ms: number; id: string }> {
  const start = performance.now();
  const { info, output } = await boxes.run(
    { image: "busybox", command: ["echo", "x"] },
    { attach: true },
  );
  for await (const _chunk of output!) break;
  return { ms: performance.now() - start, id: info.id };
}

async function bare(): Promise<number> {
  const start = performance.now();
  let ms = 0;
  await bareBwrapFirstByte(rootfs, () => ms = performance.now() - start);
  return ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const off = await openManager(false);
const on = await openManager(true);
// As `serve` runs it: two launchers waiting.
const pooled = await openManager(true, 2);
const samples: Record<string, number[]> = {
  bare: [],
  off: [],
  offBack: [],
  firstOff: [],
  first: [],
  ready: [],
  back: [],
  ready2: [],
  back2: [],
};
const used = { first: 0, ready: 0, back: 0, ready2: 0, back2: 0 };
const loadBefore = Deno.readTextFileSync("/proc/loadavg").trim();
try {
  const pause = () => new Promise((r) => setTimeout(r, 150));
  for (let round = -3; round < rounds; round++) {
    const warm = round >= 0;
    const keep = (name: string, ms: number) => warm && samples[name].push(ms);
    /** A pair: one run, then one started the moment the first's first byte arrived. */
    const pair = async (manager: Awaited<ReturnType<typeof openManager>>, names: string[]) => {
      const counts: number[] = [];
      const ids: string[] = [];
      for (const name of names) {
        const before = manager.driver.prestartedStarts;
        const run = await attachedRun(manager.boxes);
        keep(name, run.ms);
        counts.push(manager.driver.prestartedStarts - before);
        ids.push(run.id);
      }
      for (const id of ids) await manager.boxes.remove(id, true);
      return counts;
    };
    const first = async (prestart: boolean) => {
      const fresh = await openManager(prestart);
      // The driver probe a manager makes once (bubblewrap run once) is not part of a run.
      await fresh.boxes.info();
      // As `serve`'s runtime does when it opens (`openBoxRuntime`), and its first request comes
      // 150 ms later, as every other sample does; both sides wait alike.
      if (prestart) await fresh.driver.prestartFirst(join(home.home, "box", "boxes"));
      await new Promise((r) => setTimeout(r, 150));
      const run = await attachedRun(fresh.boxes);
      keep(prestart ? "first" : "firstOff", run.ms);
      if (warm) used.first += fresh.driver.prestartedStarts;
      await fresh.boxes.remove(run.id, true);
      fresh.boxes.close();
    };
    // Every sample comes 150 ms after the previous one's end (the refill made 20 ms after the
    // last prestarting run has finished), in an order that rotates each round.
    const kinds = [
      async () => keep("bare", await bare()),
      async () => void await pair(off, ["off", "offBack"]),
      async () => {
        const [ready, back] = await pair(on, ["ready", "back"]);
        if (warm) {
          used.ready += ready;
          used.back += back;
        }
      },
      async () => {
        const [ready, back] = await pair(pooled, ["ready2", "back2"]);
        if (warm) {
          used.ready2 += ready;
          used.back2 += back;
        }
      },
      () => first(false),
      () => first(true),
    ];
    for (let i = 0; i < kinds.length; i++) {
      await pause();
      await kinds[(i + Math.max(round, 0)) % kinds.length]();
    }
  }
  const bareMedian = median(samples.bare);
  console.log(`load before ${loadBefore}`);
  console.log(`load after  ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
  console.log(`medians of ${rounds} interleaved rounds, call to first byte:`);
  const rows: [string, string, number?][] = [
    ["bare", "bubblewrap directly (same rootfs)"],
    ["off", "box run, attached, no prestarting (before; 150 ms after the last run)"],
    ["offBack", "no prestarting, back-to-back with the run above"],
    ["firstOff", "no prestarting, first run of a new manager"],
    ["first", "(a) first run of a new manager (its first launcher made as it opened)", used.first],
    ["ready", "(b) launcher ready (150 ms after the last run)", used.ready],
    ["back", "(c) back-to-back with (b) (the refill waits: none ready)", used.back],
    ["ready2", "(b) with a pool of two (serve)", used.ready2],
    ["back2", "(c) with a pool of two (serve): the second launcher", used.back2],
  ];
  for (const [key, label, usedCount] of rows) {
    const m = median(samples[key]);
    const note = usedCount === undefined ? "" : `  prestarted ${usedCount}/${rounds}`;
    console.log(
      `${m.toFixed(2).padStart(7)} ms  ${(m / bareMedian).toFixed(2)}x  ${label}${note}`,
    );
  }
  // Each round has one sample of each: the median of the rounds' own ratios is steadier than
  // the ratio of medians when the load moves between rounds.
  const paired = (a: string, b: string) =>
    median(samples[a].map((ms, i) => ms / samples[b][i])).toFixed(3);
  console.log(
    `paired, median of per-round ratios: (b)/off ${paired("ready", "off")}, ` +
      `(c)/off back-to-back ${paired("back", "offBack")}, (a)/first off ${
        paired("first", "firstOff")
      }, off/bare ${paired("off", "bare")}, (b)/bare ${paired("ready", "bare")}`,
  );
  console.log(
    `pool of two: (b)/bare ${paired("ready2", "bare")}, (c)/bare ${paired("back2", "bare")}, ` +
      `(b) pool two/one ${paired("ready2", "ready")}, (c) pool two/one ${paired("back2", "back")}`,
  );
} finally {
  off.boxes.close();
  on.boxes.close();
  pooled.boxes.close();
  await home.close();
}
