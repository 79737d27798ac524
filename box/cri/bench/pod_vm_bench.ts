/**
 * What sharing a pod's VM saves: the time from asking for a container to its first output byte,
 * for a container started in a pod VM that is already up, against a box booting a VM of its own
 * (the qemu driver before pods), measured in the same run; plus one pod VM's boot and an exec's
 * round trip into a guest container. QEMU runs under TCG where KVM cannot boot a standard kernel.
 *
 * Run: `deno run -A box/cri/bench/pod_vm_bench.ts [rounds]` (as root; 3 rounds by default).
 */
import { join } from "node:path";
import { addBusybox, testHome } from "../../_test_support.ts";
import { BoxManager } from "../../manager.ts";
import { QemuDriver } from "../../drivers/qemu.ts";

const rounds = Number(Deno.args[0] ?? 3);
const home = await testHome();
const driver = new QemuDriver({
  agentCacheDir: "/tmp/a3s-box-test-agent",
  workDir: join(home.home, "qemu"),
  bootTimeoutMs: 180_000,
});
const probe = await driver.probe();
if (!probe.available) {
  console.log(`SKIPPED: qemu driver unavailable: ${probe.detail}`);
  await home.close();
  Deno.exit(0);
}
const boxes = await BoxManager.open({
  store: home.store,
  images: home.images,
  home: home.home,
  drivers: [driver],
});
await addBusybox(home.images);

/** Milliseconds from `start` until the box's log holds `text`. */
async function untilLogged(id: string, text: string, start: number): Promise<number> {
  for (;;) {
    let log = "";
    for await (const chunk of boxes.logs(id)) log += new TextDecoder().decode(chunk.data);
    if (log.includes(text)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const own: number[] = [];
const inPod: number[] = [];
const podBoot: number[] = [];
const execs: number[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    // A VM of its own per box: boot, then the command's first output.
    let started = performance.now();
    const { info: alone } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "echo first-byte; sleep 600"],
      driver: "qemu",
    });
    own.push(await untilLogged(alone.id, "first-byte", started));
    await boxes.remove(alone.id, true);

    // A pod: its VM boots once; a container started in it.
    started = performance.now();
    const { info: sandbox } = await boxes.run({
      image: "busybox",
      idle: true,
      driver: "qemu",
      podSandbox: true,
    });
    podBoot.push(performance.now() - started);
    started = performance.now();
    const { info: member } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "echo first-byte; sleep 600"],
      pod: sandbox.id,
    });
    inPod.push(await untilLogged(member.id, "first-byte", started));
    for (let i = 0; i < 5; i++) {
      const at = performance.now();
      const process = await boxes.exec(member.id, { command: ["true"] });
      await process.stdin.close();
      await process.status;
      execs.push(performance.now() - at);
    }
    await boxes.remove(member.id, true);
    await boxes.remove(sandbox.id, true);
  }
} finally {
  for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
  boxes.close();
  await home.close();
}

const ms = (v: number) => `${v.toFixed(0)} ms`;
console.log(
  `qemu ${probe.detail}; ${rounds} rounds, medians (load ${Deno.loadavg()[0].toFixed(1)})`,
);
console.log(`container to first byte, own VM booted:      ${ms(median(own))}`);
console.log(`container to first byte, in a running pod VM: ${ms(median(inPod))}`);
console.log(`pod VM boot (sandbox to agent answering):      ${ms(median(podBoot))}`);
console.log(`exec round trip into a guest container:        ${ms(median(execs))}`);
