/**
 * Where a namespace box's cold start goes: runs `box run busybox echo x` N times (default 40),
 * alternating with bare bubblewrap on the same rootfs, and prints the median time of each step,
 * from the `run` call to the first byte of the attached output (as `box run` prints it; the
 * agent's pipe, as bubblewrap's caller reads its pipe). The steps come from the
 * launcher's and the agent's trace (`A3S_LAUNCH_TRACE`, one file per start) and from timestamps
 * taken here around the calls, all on the wall clock.
 *
 * With --prestart, the driver keeps a launcher prestarted, and each box run comes 150 ms after the
 * last (the refill has finished): the steps of a start with a launcher ready. --spaced spaces the
 * runs the same way without prestarting (its control: a start after an idle pause is faster).
 *
 * Run: deno run -A box/bench/start_phases.ts [N] [--prestart | --spaced]
 */
import { join } from "node:path";
import { addBusybox, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { bareBwrapFirstByte } from "./_bare_bwrap.ts";
import { PrestartedLauncher } from "../drivers/_prestarted_launcher.ts";

const prestart = Deno.args.includes("--prestart");
const spaced = prestart || Deno.args.includes("--spaced");
const rounds = Number(Deno.args.find((arg) => !arg.startsWith("--")) ?? 40);
const home = await testHome();
const boxes = await BoxManager.open({
  store: home.store,
  images: home.images,
  home: home.home,
  drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-bench-agent", prestart })],
});
await addBusybox(home.images);
const rootfs = await home.images.rootfs((await home.images.resolve("busybox", "image")).id);

/** Milliseconds on the wall clock, with the monotonic clock's resolution. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** When the last process was spawned from Deno (the launcher, for a box). */
let lastSpawn = 0;
const spawn = Deno.Command.prototype.spawn;
Deno.Command.prototype.spawn = function (this: Deno.Command) {
  lastSpawn = wallMs();
  return spawn.call(this);
};

/** When the last spec was handed to a prestarted launcher (its write begins). */
let lastSend = 0;
/** When that spec's write and close returned (the driver writes it without awaiting). */
let lastSent = 0;
const sendSync = PrestartedLauncher.prototype.sendSync;
PrestartedLauncher.prototype.sendSync = function (this: PrestartedLauncher, args: string[]) {
  lastSend = wallMs();
  const sent = sendSync.call(this, args);
  lastSent = wallMs();
  return sent;
};

/**
 * Deno's own steps before the spec, on the wall clock: when the manager has the image, when the
 * driver's `create` and `start` are called and when `create` returns.
 */
const denoSteps = new Map<string, number>();
function timedMethod<T extends object>(
  target: T,
  key: keyof T & string,
  called: string | undefined,
  returned: string,
): void {
  const original = target[key] as (...args: unknown[]) => unknown;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    if (called) denoSteps.set(called, wallMs());
    const result = original.apply(this, args);
    if (result instanceof Promise) {
      return result.finally(() => {
        if (!denoSteps.has(returned)) denoSteps.set(returned, wallMs());
      });
    }
    denoSteps.set(returned, wallMs());
    return result;
  };
  Object.assign(target, { [key]: wrapped });
}
timedMethod(boxes.images, "resolve", undefined, "manager: image resolved");
timedMethod(boxes.images, "rootfs", undefined, "manager: rootfs path");
timedMethod(NamespaceDriver.prototype, "create", "driver: create called", "driver: create done");
timedMethod(NamespaceDriver.prototype, "start", "driver: start called", "driver: start resolved");

/** The time the attached output's first chunk arrives (the caller then detaches). */
async function firstChunk(output: AsyncIterable<unknown>): Promise<number> {
  for await (const _chunk of output) return wallMs();
  return wallMs();
}

/** The trace's steps: the first time each step's name appears, in ms on the wall clock. */
function readTrace(path: string): Map<string, number> {
  const steps = new Map<string, number>();
  for (const line of Deno.readTextFileSync(path).split("\n").filter(Boolean)) {
    const [seconds, , ...name] = line.split(" ");
    const step = name.join(" ");
    if (!steps.has(step)) steps.set(step, Number(seconds) * 1000);
  }
  return steps;
}

async function bareBwrap(): Promise<number> {
  const start = wallMs();
  let took = 0;
  await bareBwrapFirstByte(rootfs, () => {
    took = wallMs() - start;
  });
  return took;
}

const samples = new Map<string, number[]>();
function record(name: string, ms: number): void {
  samples.set(name, [...(samples.get(name) ?? []), ms]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const traceDir = await Deno.makeTempDir({ prefix: "a3s-trace" });
try {
  for (let round = -3; round < rounds; round++) {
    const bare = await bareBwrap();
    if (spaced) await new Promise((r) => setTimeout(r, 150));
    const tracePath = join(traceDir, `start-${round}.log`);
    Deno.env.set("A3S_LAUNCH_TRACE", tracePath);
    denoSteps.clear();
    const call = wallMs();
    const { info, output: attached } = await boxes.run(
      { image: "busybox", command: ["echo", "x"] },
      { attach: true },
    );
    const resolved = wallMs();
    const output = await firstChunk(attached!);
    Deno.env.delete("A3S_LAUNCH_TRACE");
    await boxes.remove(info.id, true);
    if (round < 0) continue; // warm-up
    const steps = readTrace(tracePath);
    // With a prestarted launcher the spawn was the refill's, long before: the spec's send counts.
    if (prestart) {
      steps.set("spec sent to the prestarted launcher", lastSend);
      steps.set("spec written and closed", lastSent);
    } else steps.set("launcher spawned", lastSpawn);
    for (const [step, at] of denoSteps) steps.set(step, at);
    let previous = call;
    const mark = (name: string, at: number | undefined) => {
      if (at === undefined) return;
      record(name, at - previous);
      previous = at;
    };
    record("bare bubblewrap: spawn to first byte", bare);
    for (const [step, at] of [...steps].sort((a, b) => a[1] - b[1])) mark(step, at);
    mark("first byte read from the attached output", output);
    // The agent's part as one span (its steps overlap the command's, so their medians do not add).
    const agentStarted = steps.get("agent: started");
    const teed = steps.get("agent: first output teed");
    if (agentStarted !== undefined && teed !== undefined) {
      record("span: agent started to its first output teed", teed - agentStarted);
    }
    record("total: call to first byte", output - call);
    record("run() resolved, from the call", resolved - call);
  }

  console.log(`load ${Deno.readTextFileSync("/proc/loadavg").trim()}; medians of ${rounds}`);
  for (const [name, values] of samples) {
    console.log(`${median(values).toFixed(2).padStart(8)} ms  ${name}`);
  }
} finally {
  // A failed or interrupted run leaves nothing on the host either.
  boxes.close();
  await home.close();
  await Deno.remove(traceDir, { recursive: true });
}
