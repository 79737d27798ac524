/**
 * A VM box whose starter died between its start and its row (`run` starts the box first, so
 * the store write overlaps the start): the next manager to open removes it, as it does a
 * namespace box (`abandoned_box_test.ts`): the VM's host process (QEMU, or the kvm driver's
 * VMM) is killed, its state dir removed, the removal recorded; while the starter lives the box
 * is left alone. The namespace driver is asked first and must not take the VM's dir for its own.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "@a3s/common";
import { spawnScript, TEST_AGENT_CACHE } from "./_test_support.ts";
import { removeTestHome } from "./_test_home_teardown.ts";
import { BoxManager } from "./manager.ts";
import { ImageStore } from "./image/store.ts";
import { NamespaceDriver } from "./drivers/namespace.ts";
import { QemuDriver } from "./drivers/qemu.ts";
import { KvmDriver } from "./kvm/driver.ts";
import { kvmAvailable } from "./kvm/_test_support.ts";
import { isAliveSync, type ProcessIdentity, signalProcess } from "./drivers/_proc.ts";
import type { BoxDriver } from "./types.ts";

/** The VM driver of `kind` as a new CLI or `serve` would make it on `home`. */
function vmDriver(kind: "qemu" | "kvm", home: string): BoxDriver {
  return kind === "kvm"
    ? new KvmDriver({ bootTimeoutMs: 30_000 })
    : new QemuDriver({ agentCacheDir: TEST_AGENT_CACHE, workDir: join(home, "qemu") });
}

/** A manager on an existing home (the script's), with the namespace driver before the VM's. */
async function openOn(home: string, kind: "qemu" | "kvm") {
  const store = await openStore({ sqlitePath: join(home, "a3s.db") });
  const images = await ImageStore.open(store, join(home, "images"));
  const boxes = await BoxManager.open({
    store,
    images,
    home,
    drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE }), vmDriver(kind, home)],
  });
  return {
    boxes,
    close: async () => {
      boxes.close();
      await store.close();
    },
  };
}

async function abandonedVmIsRemoved(kind: "qemu" | "kvm"): Promise<void> {
  const script = await spawnScript(
    new URL("./testdata/abandoned_vm_start.ts", import.meta.url),
    [kind],
  );
  const [home, id] = script.line.split(" ");
  assert(id?.length === 64, `the script printed ${script.line}`);
  let vm: ProcessIdentity | undefined;
  try {
    const stateDir = join(home, "box", "boxes", id.slice(0, 12));
    const record = JSON.parse(Deno.readTextFileSync(join(stateDir, "pid.json")));
    vm = { pid: record.pid, startTime: record.startTime };
    assert(isAliveSync(vm), "the VM's host process runs");

    // Its starter lives: a manager opening and listing now leaves the box alone.
    const beside = await openOn(home, kind);
    assertEquals(await beside.boxes.list({ all: true }), []);
    await beside.close();
    assert(existsSync(stateDir) && isAliveSync(vm), "a box whose starter lives was removed");

    script.child.kill("SIGKILL");
    await script.child.status;
    await script.release();
    // The VM outlives its starter (it is started detached), with no row: nothing lists it ...
    assert(isAliveSync(vm), "the VM died with its starter");
    // ... until the next manager opens.
    const next = await openOn(home, kind);
    try {
      assert(!existsSync(stateDir), "the abandoned VM's state dir is still there");
      assert(!isAliveSync(vm), "the abandoned VM still runs");
      assertEquals((await next.boxes.events(id)).map((e) => e.action), ["delete"]);
    } finally {
      await next.close();
    }
  } finally {
    try {
      script.child.kill("SIGKILL");
    } catch { /* killed above */ }
    await script.release();
    // A failed assertion must not leave a VM running on the host.
    if (vm && isAliveSync(vm)) signalProcess(vm.pid, "SIGKILL");
    removeTestHome(home);
  }
}

Deno.test("a qemu VM whose starter died before its row is removed by the next manager", async () => {
  const probe = await new QemuDriver({ agentCacheDir: TEST_AGENT_CACHE, workDir: "/tmp" }).probe();
  if (!probe.available) {
    console.log(`SKIPPED: qemu driver unavailable: ${probe.detail}`);
    return;
  }
  await abandonedVmIsRemoved("qemu");
});

Deno.test({
  name: "a kvm VM whose starter died before its row is removed by the next manager",
  ignore: !kvmAvailable(),
}, async () => {
  await abandonedVmIsRemoved("kvm");
});
