/**
 * A box whose starter died between its start and its row (`run` starts the box first, so the
 * store write overlaps the start): the next manager to open, or to list boxes, removes it (its
 * processes, cgroups, overlay and state dir), as `rm -f` would, and records the removal; while
 * its starter lives the box is left alone, as its row is on its way.
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
import { BoxCgroup, detectCgroupMode } from "./drivers/cgroup.ts";
import { isAliveSync } from "./drivers/_proc.ts";

/** A manager on an existing home (the script's), as a new CLI or `serve` would open it. */
async function openOn(home: string) {
  const store = await openStore({ sqlitePath: join(home, "a3s.db") });
  const images = await ImageStore.open(store, join(home, "images"));
  const boxes = await BoxManager.open({
    store,
    images,
    home,
    drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })],
  });
  return {
    boxes,
    close: async () => {
      boxes.close();
      await store.close();
    },
  };
}

Deno.test("a box whose starter died before its row is removed by the next manager", async () => {
  const script = await spawnScript(new URL("./testdata/abandoned_start.ts", import.meta.url));
  const [home, id] = script.line.split(" ");
  assert(id?.length === 64, `the script printed ${script.line}`);
  try {
    const stateDir = join(home, "box", "boxes", id.slice(0, 12));
    const record = JSON.parse(Deno.readTextFileSync(join(stateDir, "pid.json")));
    const box = { pid: record.pid, startTime: record.startTime };
    assert(isAliveSync(box), "the box runs");
    const groups = new BoxCgroup(await detectCgroupMode(), id).dirs.filter((d) => existsSync(d));

    // Its starter lives: a manager opening and listing now leaves the box alone.
    const beside = await openOn(home);
    assertEquals(await beside.boxes.list({ all: true }), []);
    await beside.close();
    assert(existsSync(stateDir) && isAliveSync(box), "a box whose starter lives was removed");

    script.child.kill("SIGKILL");
    await script.child.status;
    await script.release();
    // The box outlives its starter (a detached box does), with no row: nothing lists it ...
    assert(isAliveSync(box), "the box died with its starter");
    // ... until the next manager opens.
    const next = await openOn(home);
    try {
      assert(!existsSync(stateDir), "the abandoned box's state dir is still there");
      assert(!isAliveSync(box), "the abandoned box still runs");
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      const events = await next.boxes.events(id);
      assertEquals(events.map((e) => e.action), ["delete"]);
    } finally {
      await next.close();
    }
  } finally {
    try {
      script.child.kill("SIGKILL");
    } catch { /* killed above */ }
    await script.release();
    removeTestHome(home);
  }
});
