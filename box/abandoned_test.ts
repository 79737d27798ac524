/**
 * A box whose starter died between its start and its row (`run` starts the box first, so the
 * store write overlaps the start): the next manager to open, or to list boxes, removes it, as
 * `rm -f` would, and records the removal; while its starter lives the box is left alone, as its
 * row is on its way. For each driver: a namespace box's processes, cgroups, overlay and state
 * dir; a VM's host process (QEMU, or the kvm driver's VMM) and state dir. The namespace driver
 * is asked first and must not take a VM's dir for its own.
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
import { BoxCgroup, detectCgroupMode } from "./drivers/cgroup.ts";
import { isAliveSync, type ProcessIdentity, signalProcess } from "./drivers/_proc.ts";
import type { BoxDriver } from "./types.ts";

type DriverKind = "namespace" | "qemu" | "kvm";

/** The drivers a new CLI or `serve` would make on `home`: the namespace driver first. */
function drivers(kind: DriverKind, home: string): BoxDriver[] {
  const namespace = new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE });
  if (kind === "namespace") return [namespace];
  return [
    namespace,
    kind === "kvm"
      ? new KvmDriver({ bootTimeoutMs: 30_000 })
      : new QemuDriver({ agentCacheDir: TEST_AGENT_CACHE, workDir: join(home, "qemu") }),
  ];
}

/** A manager on an existing home (the script's), as a new CLI or `serve` would open it. */
async function openOn(home: string, kind: DriverKind) {
  const store = await openStore({ sqlitePath: join(home, "a3s.db") });
  const images = await ImageStore.open(store, join(home, "images"));
  const boxes = await BoxManager.open({ store, images, home, drivers: drivers(kind, home) });
  return {
    boxes,
    close: async () => {
      boxes.close();
      await store.close();
    },
  };
}

async function abandonedBoxIsRemoved(kind: DriverKind): Promise<void> {
  const script = await spawnScript(new URL("./testdata/abandoned_start.ts", import.meta.url), [
    kind,
  ]);
  const [home, id] = script.line.split(" ");
  assert(id?.length === 64, `the script printed ${script.line}`);
  let box: ProcessIdentity | undefined;
  try {
    const stateDir = join(home, "box", "boxes", id.slice(0, 12));
    const record = JSON.parse(Deno.readTextFileSync(join(stateDir, "pid.json")));
    box = { pid: record.pid, startTime: record.startTime };
    assert(isAliveSync(box), "the box's process runs");
    const groups = kind === "namespace"
      ? new BoxCgroup(await detectCgroupMode(), id).dirs.filter((d) => existsSync(d))
      : [];

    // Its starter lives: a manager opening and listing now leaves the box alone.
    const beside = await openOn(home, kind);
    assertEquals(await beside.boxes.list({ all: true }), []);
    await beside.close();
    assert(existsSync(stateDir) && isAliveSync(box), "a box whose starter lives was removed");

    script.child.kill("SIGKILL");
    await script.child.status;
    await script.release();
    // The box outlives its starter (a detached box or a VM does), with no row: nothing lists
    // it ...
    assert(isAliveSync(box), "the box died with its starter");
    // ... until the next manager opens.
    const next = await openOn(home, kind);
    try {
      assert(!existsSync(stateDir), "the abandoned box's state dir is still there");
      assert(!isAliveSync(box), "the abandoned box still runs");
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      assertEquals((await next.boxes.events(id)).map((e) => e.action), ["delete"]);
    } finally {
      await next.close();
    }
  } finally {
    try {
      script.child.kill("SIGKILL");
    } catch { /* killed above */ }
    await script.release();
    // A failed assertion must not leave a box's process running on the host.
    if (box && isAliveSync(box)) signalProcess(box.pid, "SIGKILL");
    removeTestHome(home);
  }
}

Deno.test("a box whose starter died before its row is removed by the next manager", async () => {
  await abandonedBoxIsRemoved("namespace");
});

Deno.test("a qemu VM whose starter died before its row is removed by the next manager", async () => {
  const probe = await new QemuDriver({ agentCacheDir: TEST_AGENT_CACHE, workDir: "/tmp" }).probe();
  if (!probe.available) {
    console.log(`SKIPPED: qemu driver unavailable: ${probe.detail}`);
    return;
  }
  await abandonedBoxIsRemoved("qemu");
});

Deno.test({
  name: "a kvm VM whose starter died before its row is removed by the next manager",
  ignore: !kvmAvailable(),
}, async () => {
  await abandonedBoxIsRemoved("kvm");
});
