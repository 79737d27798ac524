/**
 * This tree's box against another checkout's (`A3S_BOX_AB_BASE=/path/to/checkout`), in one
 * interleaved run: each round times bare bubblewrap, bubblewrap with box's own isolation run
 * directly (`_isolated_bwrap.ts`), and an attached `box run busybox echo x` (call to first byte)
 * on each tree's manager, with a launcher ready (150 ms after that manager's last run, as
 * `serve` keeps one) and without prestarting; every sample 150 ms after the previous one ended,
 * the order rotating each round. Prints medians, each row's ratio to bare bubblewrap, the
 * median of the per-round paired ratios (steadier when the load moves between rounds), and the
 * load average before and after. Without the variable it compares this tree with itself (A/A).
 *
 * Run: A3S_BOX_AB_BASE=/tmp/base deno run -A box/bench/tree_ab.ts [ROUNDS]
 */
import { join, resolve } from "node:path";
import { addBusybox, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { bareBwrapFirstByte } from "./_bare_bwrap.ts";
import { isolatedBwrap } from "./_isolated_bwrap.ts";

const rounds = Number(Deno.args[0] ?? 30);
const baseRoot = Deno.env.get("A3S_BOX_AB_BASE");
const AGENT_CACHE = "/tmp/a3s-box-bench-agent";

type Tree = { Manager: typeof BoxManager; Driver: typeof NamespaceDriver };
const here: Tree = { Manager: BoxManager, Driver: NamespaceDriver };
const base: Tree = baseRoot
  ? {
    Manager: (await import(resolve(baseRoot, "box/manager.ts"))).BoxManager,
    Driver: (await import(resolve(baseRoot, "box/drivers/namespace.ts"))).NamespaceDriver,
  }
  : here;

const homes = [await testHome(), await testHome()];
for (const home of homes) await addBusybox(home.images);
const rootfs = await homes[0].images.rootfs((await homes[0].images.resolve("busybox", "image")).id);
const isolated = isolatedBwrap(rootfs, join(homes[0].home, "isolated-bwrap"));

/** A manager of `tree` on `home`, with a launcher kept ready or not. */
async function open(tree: Tree, home: (typeof homes)[number], prestart: boolean) {
  const driver = new tree.Driver({ agentCacheDir: AGENT_CACHE, prestart });
  return await tree.Manager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [driver],
  });
}

const managers = {
  baseOff: await open(base, homes[0], false),
  hereOff: await open(here, homes[1], false),
  baseReady: await open(base, homes[0], true),
  hereReady: await open(here, homes[1], true),
};
type Row = "bare" | "isolated" | keyof typeof managers;
const samples: Record<Row, number[]> = {
  bare: [],
  isolated: [],
  baseOff: [],
  hereOff: [],
  baseReady: [],
  hereReady: [],
};

async function attachedRun(boxes: BoxManager): Promise<number> {
  const start = performance.now();
  const { info, output } = await boxes.run(
    { image: "busybox", command: ["echo", "x"] },
    { attach: true },
  );
  for await (const _chunk of output!) break;
  const ms = performance.now() - start;
  await boxes.remove(info.id, true);
  return ms;
}

async function timed(run: (onFirstByte: () => void) => Promise<void>): Promise<number> {
  const start = performance.now();
  let ms = 0;
  await run(() => ms = performance.now() - start);
  return ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const loadBefore = Deno.readTextFileSync("/proc/loadavg").trim();
try {
  const kinds: [Row, () => Promise<number>][] = [
    ["bare", () => timed((done) => bareBwrapFirstByte(rootfs, done))],
    ["isolated", () => timed((done) => isolated.firstByte(done))],
    ...Object.entries(managers).map(([row, boxes]) =>
      [row as Row, () => attachedRun(boxes)] as [Row, () => Promise<number>]
    ),
  ];
  for (let round = -3; round < rounds; round++) {
    for (let i = 0; i < kinds.length; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const [row, run] = kinds[(i + Math.max(round, 0)) % kinds.length];
      const ms = await run();
      if (round >= 0) samples[row].push(ms);
    }
  }
  const bare = median(samples.bare);
  const paired = (a: Row, b: Row) => median(samples[a].map((ms, i) => ms / samples[b][i]));
  console.log(`load before ${loadBefore}`);
  console.log(`load after  ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
  console.log(
    `base: ${baseRoot ?? "this tree (A/A)"}; medians of ${rounds} rounds, call to first byte`,
  );
  const labels: Record<Row, string> = {
    bare: "bubblewrap directly (bare)",
    isolated: "bubblewrap directly with box's isolation",
    baseOff: "base: box run, attached, no launcher",
    hereOff: "this tree: box run, attached, no launcher",
    baseReady: "base: (b) a launcher ready",
    hereReady: "this tree: (b) a launcher ready",
  };
  for (const row of Object.keys(labels) as Row[]) {
    const m = median(samples[row]);
    console.log(
      `${m.toFixed(2).padStart(7)} ms  ${(m / bare).toFixed(2)}x  paired/bare ${
        paired(row, "bare").toFixed(3)
      }  paired/isolated ${paired(row, "isolated").toFixed(3)}  ${labels[row]}`,
    );
  }
  console.log(
    `this tree / base, paired: no launcher ${paired("hereOff", "baseOff").toFixed(3)}, ` +
      `launcher ready ${paired("hereReady", "baseReady").toFixed(3)}`,
  );
} finally {
  for (const boxes of Object.values(managers)) boxes.close();
  isolated.close();
  for (const home of homes) await home.close();
}
