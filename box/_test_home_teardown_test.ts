/**
 * Nothing a box, a network or a test leaves behind may outlive it on the host: no network
 * namespace, no veth, no mount, no cgroup, no process, no dir. Real boxes, real namespaces.
 */
import { existsSync } from "node:fs";
import { assert, assertEquals } from "@a3s/common/testing";
import type { A3sError } from "@a3s/common";
import { openNamespaceBoxes, spawnScript, withNamespaceBoxes } from "./_test_support.ts";
import {
  homeCgroupDirs,
  homeHostVeths,
  homeNetworkNamespaces,
  mountsUnder,
  sweepAbandonedTestHomes,
} from "./_test_home_teardown.ts";
import { NetworkStore } from "./network/networks.ts";

const canRun = Deno.uid() === 0 &&
  (await new Deno.Command("bwrap", { args: ["--version"] }).output().then((o) => o.success)
    .catch(() => false)) &&
  (await new Deno.Command("ip", { args: ["netns", "list"] }).output().then((o) => o.success)
    .catch(() => false));

function hostLinks(): string[] {
  const out = new Deno.Command("ip", { args: ["-o", "link"], stdout: "piped" }).outputSync();
  return [...new TextDecoder().decode(out.stdout).matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]);
}

function alive(pid: number): boolean {
  try {
    const state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.[0];
    return state !== undefined && state !== "Z";
  } catch {
    return false;
  }
}

/** What a home holds on the host now, by name, so it can be looked for once the home is gone. */
function traces(home: string) {
  return {
    netns: homeNetworkNamespaces(home),
    veths: homeHostVeths(home),
    mounts: mountsUnder(home),
    cgroups: homeCgroupDirs(home),
  };
}

/** Fails naming each thing from `before` that is still on the host. */
function assertGone(home: string, before: ReturnType<typeof traces>, pids: number[] = []) {
  const links = hostLinks();
  const left = [
    ...before.netns.filter((n) => existsSync(`/run/netns/${n}`)).map((n) => `netns ${n}`),
    ...before.veths.filter((v) => links.includes(v)).map((v) => `veth ${v}`),
    ...mountsUnder(home).map((m) => `mount ${m}`),
    ...before.cgroups.filter(existsSync).map((c) => `cgroup ${c}`),
    ...pids.filter(alive).map((p) => `process ${p}`),
    ...(existsSync(home) ? [`dir ${home}`] : []),
  ];
  assertEquals(left, []);
}

function boxPid(home: string, id: string): number {
  return JSON.parse(Deno.readTextFileSync(`${home}/box/boxes/${id.slice(0, 12)}/pid.json`)).pid;
}

Deno.test({
  name: "teardown: a test home closed with a box still running on a network leaves nothing",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    let before: ReturnType<typeof traces> | undefined;
    let pid = 0;
    try {
      await boxes.networks.create("held", { hostAccess: true });
      const { info } = await boxes.run({
        image: "busybox",
        name: "held",
        networks: ["held"],
        command: ["sleep", "600"],
      });
      const done = await boxes.run({ image: "busybox", command: ["true"] });
      await boxes.wait(done.info.id);
      pid = boxPid(home.home, info.id);
      before = traces(home.home);
      // Something of each kind is there to be left behind.
      assertEquals(before.netns.length, 2, JSON.stringify(before));
      assertEquals(before.veths.length, 1);
      assert(before.mounts.length >= 1, JSON.stringify(before));
      assert(before.cgroups.length >= 1, JSON.stringify(before));
      assert(alive(pid));
    } finally {
      // As a failing test would: nothing removed, straight to the home's close.
      boxes.close();
      await home.close();
    }
    assertGone(home.home, before!, [pid]);
  },
});

Deno.test({
  name: "teardown: removing a box and then its network leaves no namespace, veth, mount or cgroup",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNamespaceBoxes(async (boxes, home) => {
      const network = await boxes.networks.create("life", { hostAccess: true });
      const { info } = await boxes.run({
        image: "busybox",
        name: "life",
        networks: ["life"],
        command: ["sleep", "600"],
      });
      const pid = boxPid(home.home, info.id);
      const before = traces(home.home);
      await boxes.remove(info.id, true);
      await boxes.networks.remove("life");
      const links = hostLinks();
      assertEquals(before.netns.filter((n) => existsSync(`/run/netns/${n}`)), []);
      assert(before.netns.includes(network.netns));
      assertEquals(before.veths.filter((v) => links.includes(v)), []);
      assertEquals(mountsUnder(home.home), []);
      assertEquals(before.cgroups.filter(existsSync), []);
      assert(!alive(pid));
      assert(!existsSync(`${home.home}/box/boxes/${info.id.slice(0, 12)}`));
    });
  },
});

Deno.test({
  name: "networks: two creators racing for one name, one wins and no namespace is orphaned",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNamespaceBoxes(async (boxes, home) => {
      const listed = () => new Set([...Deno.readDirSync("/run/netns")].map((e) => e.name));
      const before = listed();
      // Two stores on one home: two processes (or two pods' requests) creating the pod network.
      const results = await Promise.allSettled([
        new NetworkStore(home.home).create("race", { hostAccess: true }),
        new NetworkStore(home.home).create("race", { hostAccess: true }),
      ]);
      const won = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
      const lost = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
      assertEquals(won.length, 1);
      assertEquals((lost[0] as A3sError).code, "network_exists");
      const made = [...listed()].filter((n) => !before.has(n) && n.startsWith("a3s-net-"));
      assertEquals(made, [won[0].netns]);
      assertEquals((await boxes.networks.inspect("race")).id, won[0].id);
      await boxes.networks.remove("race");
      assert(!listed().has(won[0].netns));
    });
  },
});

Deno.test({
  name: "teardown: the home of a test process killed before its cleanup is swept by the next",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { child, line: home, release } = await spawnScript(
      new URL("./testdata/abandon_test_home.ts", import.meta.url),
    );
    assert(home.startsWith("/tmp/a3sbox"), `the child printed '${home}'`);
    const before = traces(home);
    const pid = boxPid(home, [...Deno.readDirSync(`${home}/box/boxes`)][0].name);
    child.kill("SIGKILL");
    await child.status;
    await release();
    assert(before.netns.length === 2 && before.mounts.length >= 1, JSON.stringify(before));
    // Killed: its box, mounts and namespaces are all still there until a sweep.
    assert(alive(pid) && existsSync(home));
    const swept = sweepAbandonedTestHomes();
    assert(swept.includes(home), JSON.stringify(swept));
    assertGone(home, before, [pid]);
  },
});
