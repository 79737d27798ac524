/**
 * A starter killed between a VM box's start and its row: starts a box through the qemu driver
 * (argument `qemu`) or the kvm driver (`kvm`, the echo guest standing in for Linux) the way
 * `run` does before it writes the row, never writes the row, prints the home's path and the
 * box's id once the VM's host process is recorded, and waits to be killed.
 * `abandoned_vm_test.ts` checks that the next manager kills that process and removes the box's
 * state once this process is gone.
 */
import { join } from "node:path";
import { addBusybox, TEST_AGENT_CACHE, testHome } from "../_test_support.ts";
import { QemuDriver } from "../drivers/qemu.ts";
import { KvmDriver } from "../kvm/driver.ts";
import { GUESTS } from "../kvm/testdata/guests.ts";

const home = await testHome();
await addBusybox(home.images);
const driver = Deno.args[0] === "kvm"
  ? new KvmDriver({
    guestProgram: { image: GUESTS.echo_agent, mode: "protected", entry: 0x100000 },
    bootTimeoutMs: 30_000,
  })
  : new QemuDriver({
    agentCacheDir: TEST_AGENT_CACHE,
    workDir: join(home.home, "qemu"),
    bootTimeoutMs: 120_000,
  });
const id = Array.from(
  crypto.getRandomValues(new Uint8Array(32)),
  (b) => b.toString(16).padStart(2, "0"),
).join("");
const stateDir = join(home.home, "box", "boxes", id.slice(0, 12));
const spec = {
  id,
  rootfs: await home.images.rootfs((await home.images.resolve("busybox", "image")).id),
  stateDir,
  command: ["sleep", "60"],
  env: {},
  volumes: [],
  limits: { memoryBytes: 128 * 1024 * 1024 },
  network: "none" as const,
};
await driver.create(spec);
// `run` does not wait for the boot before it writes the row: neither does this starter.
driver.start(spec, {
  stdoutPath: join(stateDir, "stdout.log"),
  stderrPath: join(stateDir, "stderr.log"),
}).catch(() => {});
const recorded = join(stateDir, "pid.json");
while (!(await Deno.stat(recorded).then(() => true, () => false))) {
  await new Promise((r) => setTimeout(r, 10));
}
console.log(`${home.home} ${id}`);
await new Promise(() => {});
