/**
 * The prestarted launcher, A/B, in one interleaved run: each round times bare bubblewrap, then
 * an attached `box run busybox echo x` (call to first byte of output) in four ways:
 * - off: a long-lived manager without prestarting (the code before it);
 * - (a) first: a manager opened for this sample, prestarting on, its first run (no launcher is
 *   ready; the agent build and image lookups are already warm in this process);
 * - (b) ready: the long-lived prestarting manager, 150 ms after its last run, so the refill
 *   that run began has finished;
 * - (c) back-to-back: the same manager again, started the moment (b)'s first byte arrived, so
 *   the refill (b) began competes with it (or is not ready yet).
 * Prints the median of each and its ratio to bare bubblewrap's median, with how many samples
 * actually used a prestarted launcher, and the load average before and after.
 *
 * Run: deno run -A box/bench/prestart_ab.ts [ROUNDS]
 */
import { addBusybox, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { bareBwrapFirstByte } from "./_bare_bwrap.ts";

const rounds = Number(Deno.args[0] ?? 30);
const AGENT_CACHE = "/tmp/a3s-box-bench-agent";
const home = await testHome();
await addBusybox(home.images);
const rootfs = await home.images.rootfs((await home.images.resolve("busybox", "image")).id);

/** A manager on the test home with one namespace driver. */
async function openManager(prestart: boolean) {
  const driver = new NamespaceDriver({ agentCacheDir: AGENT_CACHE, prestart });
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
const samples: Record<string, number[]> = { bare: [], off: [], first: [], ready: [], back: [] };
const used = { first: 0, ready: 0, back: 0 };
const loadBefore = Deno.readTextFileSync("/proc/loadavg").trim();
try {
  for (let round = -3; round < rounds; round++) {
    const warm = round >= 0;
    const keep = (name: string, ms: number) => warm && samples[name].push(ms);

    keep("bare", await bare());

    const a = await attachedRun(off.boxes);
    keep("off", a.ms);
    await off.boxes.remove(a.id, true);

    const fresh = await openManager(true);
    // The driver probe a manager makes once (bubblewrap run once) is not part of a run.
    await fresh.boxes.info();
    const f = await attachedRun(fresh.boxes);
    keep("first", f.ms);
    if (warm) used.first += fresh.driver.prestartedStarts;
    await fresh.boxes.remove(f.id, true);
    fresh.boxes.close();

    await new Promise((r) => setTimeout(r, 150));
    let before = on.driver.prestartedStarts;
    const b = await attachedRun(on.boxes);
    keep("ready", b.ms);
    if (warm) used.ready += on.driver.prestartedStarts - before;
    before = on.driver.prestartedStarts;
    const c = await attachedRun(on.boxes);
    keep("back", c.ms);
    if (warm) used.back += on.driver.prestartedStarts - before;
    await on.boxes.remove(b.id, true);
    await on.boxes.remove(c.id, true);
  }
  const bareMedian = median(samples.bare);
  console.log(`load before ${loadBefore}`);
  console.log(`load after  ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
  console.log(`medians of ${rounds} interleaved rounds, call to first byte:`);
  const rows: [string, string, number?][] = [
    ["bare", "bubblewrap directly (same rootfs)"],
    ["off", "box run, attached, no prestarting (before)"],
    ["first", "(a) first run of a new manager (none ready)", used.first],
    ["ready", "(b) launcher ready (150 ms after the last run)", used.ready],
    ["back", "(c) back-to-back with (b) (refill competing)", used.back],
  ];
  for (const [key, label, usedCount] of rows) {
    const m = median(samples[key]);
    const note = usedCount === undefined ? "" : `  prestarted ${usedCount}/${rounds}`;
    console.log(
      `${m.toFixed(2).padStart(7)} ms  ${(m / bareMedian).toFixed(2)}x  ${label}${note}`,
    );
  }
} finally {
  off.boxes.close();
  on.boxes.close();
  await home.close();
}
