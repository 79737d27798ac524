/**
 * A starter killed between a box's start and its row: starts a box through the driver its
 * argument names (`namespace`, `qemu`, or `kvm` with the echo guest standing in for Linux) the
 * way `run` does before it writes the row, never writes the row, prints the home's path and the
 * box's id once the box's process is recorded, and waits to be killed. `abandoned_test.ts`
 * checks that the next manager removes the box once this process is gone, and leaves it while
 * it lives.
 */
import { join } from "node:path";
import {
  addBusybox,
  busyboxSpec,
  randomBoxId,
  TEST_AGENT_CACHE,
  testHome,
} from "../_test_support.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { QemuDriver } from "../drivers/qemu.ts";
import { KvmDriver } from "../kvm/driver.ts";
import { GUESTS } from "../kvm/testdata/guests.ts";
import type { BoxDriver } from "../types.ts";

const kind = Deno.args[0];
const home = await testHome();
await addBusybox(home.images);
const driver: BoxDriver = kind === "kvm"
  ? new KvmDriver({
    guestProgram: { image: GUESTS.echo_agent, mode: "protected", entry: 0x100000 },
    bootTimeoutMs: 30_000,
  })
  : kind === "qemu"
  ? new QemuDriver({
    agentCacheDir: TEST_AGENT_CACHE,
    workDir: join(home.home, "qemu"),
    bootTimeoutMs: 120_000,
  })
  : new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE });
const id = randomBoxId();
const stateDir = join(home.home, "box", "boxes", id.slice(0, 12));
const { spec, paths } = await busyboxSpec(home, {
  id,
  stateDir,
  command: ["sleep", "60"],
  limits: kind === "namespace" ? { pids: 32 } : { memoryBytes: 128 * 1024 * 1024 },
});
await driver.create(spec);
// `run` does not wait for a VM's boot before it writes the row: neither does this starter.
const started = driver.start(spec, paths);
if (kind === "namespace") await started;
else started.catch(() => {});
const recorded = join(stateDir, "pid.json");
while (!(await Deno.stat(recorded).then(() => true, () => false))) {
  await new Promise((r) => setTimeout(r, 10));
}
console.log(`${home.home} ${id}`);
await new Promise(() => {});
