/**
 * The prestarted launcher (`NamespaceDriverOptions.prestart`): the next box starts on a launcher
 * made ahead, with the same isolation as one started the usual way; a waiting launcher dies with
 * its manager; one prepared for another agent binary, or dead, is never used (the box starts the
 * usual way); closing the manager leaves nothing on the host.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  addBusybox,
  openNamespaceBoxes,
  spawnScript,
  TEST_AGENT_CACHE,
  testHome,
  withNamespaceBoxes,
} from "../_test_support.ts";
import { mountsUnder, removeTestHome } from "../_test_home_teardown.ts";
import { openStore, type Store } from "@a3s/common";
import { BoxManager } from "../manager.ts";
import { ImageStore } from "../image/store.ts";
import { openBoxRuntime } from "../runtime.ts";
import { NamespaceDriver } from "./namespace.ts";
import {
  PrestartedLauncher,
  sweepAbandonedLauncherDirs,
  sweepAbandonedLauncherGroups,
} from "./_prestarted_launcher.ts";
import { BoxCgroup, detectCgroupMode } from "./cgroup.ts";
import { processIdentitySync } from "./_proc.ts";
import { writeTar } from "../image/tar.ts";
import { busyboxImage } from "../image/busybox.ts";
import {
  launchersOf,
  pollUntil,
  prestartedLaunchers,
  reservedStateDirs,
  running,
  waitingLaunchers,
} from "./namespace_prestart_test_support.ts";

const root = Deno.uid() === 0;
const options = { sanitizeResources: false, sanitizeOps: false, ignore: !root };

/** A manager on the namespace driver with prestarting on, the busybox image added. */
function withPrestarting(
  body: (boxes: BoxManager, driver: NamespaceDriver, home: string) => Promise<void>,
  prestartPool?: number,
): Promise<void> {
  return withNamespaceBoxes(
    (boxes, home, driver) => body(boxes, driver, home.home),
    { prestart: true, ...(prestartPool ? { prestartPool } : {}) },
  );
}

/** The attached output of a box running `script` in busybox's sh, and the box's id. */
async function runAttached(
  boxes: BoxManager,
  script: string,
  extra: { memory?: number } = {},
): Promise<{ id: string; text: string }> {
  const { info, output } = await boxes.run(
    {
      image: "busybox",
      command: ["sh", "-c", script],
      ...(extra.memory ? { limits: { memoryBytes: extra.memory, pids: 64 } } : {}),
    },
    { attach: true },
  );
  let text = "";
  for await (const chunk of output!) text += new TextDecoder().decode(chunk.data);
  return { id: info.id, text };
}

/** Waits until the driver's launcher is prepared (and the driver has read its byte). */
async function launcherReady(home: string): Promise<number> {
  const [pid] = await prestartedLaunchers(home);
  await new Promise((r) => setTimeout(r, 30));
  return pid;
}

/** The cgroup dirs a launcher or box named `name` has on this host (v1 here; none without). */
async function cgroupDirsOf(name: string): Promise<string[]> {
  return new BoxCgroup(await detectCgroupMode(), name).dirs.filter((dir) => existsSync(dir));
}

/** The cgroup dirs made ahead for `home`'s waiting launchers (named by their reserved ids). */
async function launcherCgroups(home: string): Promise<string[]> {
  const ids = reservedStateDirs(home).map((reserved) => reserved.box);
  return (await Promise.all(ids.map(cgroupDirsOf))).flat();
}

/** What each box reports about its own isolation. */
const PROBE = [
  "echo uid_map $(cat /proc/self/uid_map)",
  "grep '^Seccomp:' /proc/self/status",
  "echo init $(tr '\\0' ' ' < /proc/1/cmdline | cut -c1-11)",
  "echo net $(grep -c : /proc/net/dev)",
  "echo dev $(ls /dev | tr '\\n' ' ')",
  "echo host_db $(test -e /a3s.db && echo seen || echo hidden)",
  "echo write $(echo hi > /tmp/f && cat /tmp/f)",
].join("; ");

Deno.test(
  "prestart: the next box starts on a launcher made ahead, isolated as any box",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      // The first box starts the usual way; its isolation is the reference.
      const first = await runAttached(boxes, PROBE);
      assertEquals(driver.prestartedStarts, 0);
      const launcher = await launcherReady(home);
      // Waiting, it is already in the groups made for the next box (memory, pids, cpuacct on v1).
      const ahead = await launcherCgroups(home);
      if ((await detectCgroupMode()) === "v1") {
        assertEquals(ahead.length, 4, JSON.stringify(ahead));
        const memory = ahead.find((dir) => dir.includes("/memory/"))!;
        assert(Deno.readTextFileSync(join(memory, "cgroup.procs")).includes(`${launcher}\n`));
      }
      const second = await runAttached(boxes, PROBE, { memory: 64 * 1024 * 1024 });
      assertEquals(driver.prestartedStarts, 1);
      assertEquals(second.text, first.text);
      assert(second.text.includes("uid_map 0 0 65536"), second.text);
      assert(second.text.includes("Seccomp:\t2"), second.text);
      assert(second.text.includes("init /.a3s/agent"), second.text); // its own pid namespace
      assert(second.text.includes("net 1\n"), second.text); // lo only
      assert(second.text.includes("host_db hidden"), second.text);
      // The box's recorded process is the launcher that waited, and its limits are the box's.
      const stateDir = join(home, "box", "boxes", second.id.slice(0, 12));
      const record = JSON.parse(Deno.readTextFileSync(join(stateDir, "pid.json")));
      assertEquals(record.pid, launcher);
      // Written when the launcher was made, it says what the first box's start wrote, its own
      // process and id aside.
      const firstRecord = JSON.parse(
        Deno.readTextFileSync(join(home, "box", "boxes", first.id.slice(0, 12), "pid.json")),
      );
      const ownAside = (r: Record<string, unknown>) => ({ ...r, pid: 0, startTime: "", box: "" });
      assertEquals(ownAside(record), ownAside(firstRecord));
      assertEquals(record.box, second.id);
      assert(/^\d+$/.test(record.startTime), JSON.stringify(record));
      // The spec went without an await, so the box had its process before `run` wrote its row:
      // written as running at once, not updated once the box was up.
      const secondInfo = await boxes.inspect(second.id);
      assertEquals(secondInfo.startedAt, secondInfo.createdAt);
      const cgroup = `/sys/fs/cgroup/memory/a3s-box/${second.id}`;
      if (existsSync(cgroup)) {
        assertEquals(
          Deno.readTextFileSync(join(cgroup, "memory.limit_in_bytes")).trim(),
          "67108864",
        );
      }
      // Its overlay lives in the box's namespaces only: the host's mount table never had it.
      assertEquals(mountsUnder(stateDir), []);
      // A detached box and a long-running one on the next launchers.
      await launcherReady(home);
      const { info } = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", "echo d; sleep 60"],
      });
      assertEquals(driver.prestartedStarts, 2);
      const pid = JSON.parse(
        Deno.readTextFileSync(join(home, "box", "boxes", info.id.slice(0, 12), "pid.json")),
      ).pid;
      if (existsSync(`/sys/fs/cgroup/pids/a3s-box/${info.id}`)) {
        const procs = Deno.readTextFileSync(`/sys/fs/cgroup/pids/a3s-box/${info.id}/cgroup.procs`);
        assert(procs.trim().split("\n").length >= 2, procs); // bubblewrap's processes, in its group
      }
      await boxes.remove(info.id, true);
      assert(!running(pid));
      // Closing the manager takes the waiting launcher and its dir with it.
      const waiting = await launcherReady(home);
      const waitingDirs = reservedStateDirs(home);
      assertEquals(waitingDirs.map((reserved) => reserved.pid), [waiting]);
      const waitingGroups = await launcherCgroups(home);
      boxes.close();
      await pollUntil(() => !running(waiting), 5000);
      assert(!running(waiting), "the waiting launcher outlived close");
      // Its dir goes once its groups have (its user namespace's holder leaves them last).
      await pollUntil(() => !existsSync(waitingDirs[0].dir), 5000);
      assertEquals(reservedStateDirs(home), []);
      assert(!existsSync(waitingDirs[0].dir));
      // Its groups go once it has exited.
      await pollUntil(() => !waitingGroups.some((dir) => existsSync(dir)), 5000);
      assertEquals(waitingGroups.filter((dir) => existsSync(dir)), []);
    });
  },
);

/**
 * The lower dirs of the overlays on a waiting launcher's own state dir in `pid`'s mount namespace
 * (it also holds copies of the host's mounts at the time it was made, other boxes' overlays among
 * them).
 */
function overlayLowersOf(home: string, pid: number): string[] {
  const own = reservedStateDirs(home).find((reserved) => reserved.pid === pid);
  assert(own, `no reserved state dir names launcher ${pid}`);
  return Deno.readTextFileSync(`/proc/${pid}/mountinfo`).split("\n")
    .filter((line) => line.includes(" - overlay ") && line.split(" ")[4].startsWith(`${own.dir}/`))
    .map((line) => line.match(/lowerdir=([^,]+)/)?.[1] ?? "");
}

/** The attached output of a box of `image` running `script`. */
async function runImage(boxes: BoxManager, image: string, script: string): Promise<string> {
  const { output } = await boxes.run({ image, command: ["sh", "-c", script] }, { attach: true });
  let text = "";
  for await (const chunk of output!) text += new TextDecoder().decode(chunk.data);
  return text;
}

Deno.test(
  "prestart: the waiting launcher mounts the last image's overlay ahead; another image's box gets its own",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      // A second image: busybox with a marker file on top.
      const busybox = await boxes.images.resolve("busybox", "image");
      const { layer, config } = await busyboxImage();
      const marker = writeTar([{
        path: "marker",
        type: "file",
        data: new TextEncoder().encode("B"),
      }]);
      await boxes.images.createImage([layer, marker], config, ["marked:latest"]);
      const busyboxRoot = await boxes.images.rootfs(busybox.id);
      const markedRoot = await boxes.images.rootfs(
        (await boxes.images.resolve("marked", "image")).id,
      );
      const check = "cat /marker 2>/dev/null || echo none";
      assertEquals(await runImage(boxes, "busybox", check), "none\n");
      // Waiting, the launcher holds busybox's overlay in its own mount namespace, not the host's.
      let launcher = await launcherReady(home);
      assertEquals(overlayLowersOf(home, launcher), [busyboxRoot]);
      // A waiting launcher's overlay, seen from the host (it never should be).
      const onHost = () => reservedStateDirs(home).flatMap((reserved) => mountsUnder(reserved.dir));
      assertEquals(onHost(), []);
      const trace = join(home, "trace.log");
      Deno.env.set("A3S_LAUNCH_TRACE", trace);
      try {
        // Another image: the overlay mounted ahead goes, the box's own comes.
        assertEquals(await runImage(boxes, "marked", check), "B");
        assertEquals(driver.prestartedStarts, 1);
        assert(Deno.readTextFileSync(trace).includes("overlay mounted ahead unmounted"));
        launcher = await launcherReady(home);
        assertEquals(overlayLowersOf(home, launcher), [markedRoot]);
        // The same image: the overlay mounted ahead is the box's.
        Deno.removeSync(trace);
        assertEquals(await runImage(boxes, "marked", check), "B");
        assertEquals(driver.prestartedStarts, 2);
        assert(Deno.readTextFileSync(trace).includes("overlay mounted ahead kept"));
        // And back: busybox's box never sees the marked image.
        await launcherReady(home);
        assertEquals(await runImage(boxes, "busybox", check), "none\n");
        assertEquals(driver.prestartedStarts, 3);
      } finally {
        Deno.env.delete("A3S_LAUNCH_TRACE");
      }
      assertEquals(onHost(), []);
      // The boxes that ran on prestarted launchers have their overlays in their namespaces only.
      const boxesOnHost = mountsUnder(join(home, "box", "boxes"));
      assertEquals(boxesOnHost.length, 1, JSON.stringify(boxesOnHost)); // the first, started as usual
    });
  },
);

Deno.test(
  "prestart: a launcher prepared for another agent binary, or dead, is not used",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      await runAttached(boxes, "true");
      const stale = await launcherReady(home);
      // The agent binary changes (a rebuild): the launcher made with the old one is discarded.
      const agent = Deno.readTextFileSync(`/proc/${stale}/cmdline`).split("\0")[0];
      const stat = Deno.statSync(agent);
      Deno.utimeSync(agent, new Date(), new Date());
      try {
        const changed = await runAttached(boxes, "echo changed");
        assertEquals(changed.text, "changed\n");
        assertEquals(driver.prestartedStarts, 0);
        assert(!running(stale) || (await new Promise((r) => setTimeout(r, 200)), !running(stale)));
        // A launcher that died while waiting: the box starts the usual way.
        const dead = await launcherReady(home);
        Deno.kill(dead, "SIGKILL");
        while (running(dead)) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 20));
        const fallback = await runAttached(boxes, "echo fallback");
        assertEquals(fallback.text, "fallback\n");
        assertEquals(driver.prestartedStarts, 0);
      } finally {
        Deno.utimeSync(agent, stat.atime ?? new Date(), stat.mtime ?? new Date());
      }
    });
  },
);

Deno.test(
  "prestart: a waiting launcher dies with its killed manager; managers beside it leave it, the next on its data dir sweeps it",
  options,
  async () => {
    const { child, line: printed, release } = await spawnScript(
      new URL("../testdata/prestarting_manager.ts", import.meta.url),
    );
    const [home, pid] = printed.split(" ");
    // A prestarting manager on another data dir: its first refill sweeps the whole hierarchy of
    // launcher-named groups whose owner died.
    const other = await openNamespaceBoxes({ prestart: true });
    let beside: BoxManager | undefined;
    let store: Store | undefined;
    try {
      assert(home.startsWith("/tmp/a3sbox") && Number(pid) > 0, `the child printed '${printed}'`);
      assert(running(Number(pid)));
      // The launcher waits in the state dir of the box id it reserved, in that box's groups.
      const [reserved, ...more] = reservedStateDirs(home);
      assertEquals(more, []);
      assertEquals(reserved.pid, Number(pid));
      const groups = await cgroupDirsOf(reserved.box);
      const mode = await detectCgroupMode();
      if (mode === "v1") assertEquals(groups.length, 4, JSON.stringify(groups));
      // While its owner lives, a manager of another process on the same data dir (its sweep
      // runs as it opens and lists) leaves the reserved dir, its groups and its launcher alone...
      store = await openStore({ sqlitePath: join(home, "a3s.db") });
      beside = await BoxManager.open({
        store,
        images: await ImageStore.open(store, join(home, "images")),
        home,
        drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })],
      });
      assertEquals(await beside.list({ all: true }), []);
      // ...and so does the other data dir's hierarchy sweep.
      await runAttached(other.boxes, "true");
      await launcherReady(other.home.home);
      assert(running(Number(pid)), "a manager beside the owner took its launcher");
      assert(existsSync(reserved.dir));
      assertEquals(groups.filter((dir) => existsSync(dir)), groups);
      child.kill("SIGKILL");
      await child.status;
      // The launcher goes first; the holder of its user namespace (a clone of it) follows once
      // the launcher's end closes its pipe, and takes the launcher's mount namespace down.
      await pollUntil(() => !running(Number(pid)) && launchersOf(home).length === 0, 5000);
      assert(!running(Number(pid)), "the prestarted launcher outlived its manager");
      assertEquals(launchersOf(home), []);
      // Its state dir and groups stay until a manager on the data dir sweeps them (their owner
      // is gone), as it sweeps a box whose starter died before its row.
      assert(existsSync(reserved.dir));
      await beside.list({ all: true });
      assert(!existsSync(reserved.dir), "the dead owner's reserved dir was not swept");
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      assertEquals(await beside.list({ all: true }), []);
    } finally {
      beside?.close();
      await store?.close();
      await release();
      if (home?.startsWith("/tmp/a3sbox")) removeTestHome(home);
      for (const box of await other.boxes.list({ all: true })) {
        await other.boxes.remove(box.id, true);
      }
      other.boxes.close();
      await other.home.close();
    }
  },
);

Deno.test(
  "prestart: a box claims the reserved id only when it can run on the launcher; a failed or removed box lets it go with its dir and groups",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      await runAttached(boxes, "true");
      let launcher = await launcherReady(home);
      let [reserved] = reservedStateDirs(home);
      assertEquals(reserved.pid, launcher);
      // A box with stdin cannot run on a prestarted launcher: it gets an id of its own, and the
      // launcher keeps waiting for the next box in its reserved dir.
      const interactive = await boxes.create({
        image: "busybox",
        command: ["cat"],
        interactive: true,
      });
      assert(interactive.id !== reserved.box);
      assertEquals(reservedStateDirs(home).map((r) => r.box), [reserved.box]);
      assert(running(launcher));
      await boxes.remove(interactive.id, true);
      // A box whose create fails after it claimed the id (a pids limit the kernel refuses):
      // the launcher is killed, and the dir and groups made for that id go with it.
      const groups = await cgroupDirsOf(reserved.box);
      await assertRejects(
        () => boxes.create({ image: "busybox", command: ["true"], limits: { pids: -3 } }),
        Error,
      );
      await pollUntil(() => !running(launcher) && !existsSync(reserved.dir), 5000);
      assert(!running(launcher), "the launcher of a box that failed to create waits on");
      assert(!existsSync(reserved.dir), "the failed box's reserved dir is left");
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      const failedId = reserved.box;
      assertEquals((await boxes.list({ all: true })).filter((box) => box.id === failedId), []);
      // A box created on the next launcher and removed unstarted: the same.
      await runAttached(boxes, "true");
      launcher = await launcherReady(home);
      [reserved] = reservedStateDirs(home);
      const created = await boxes.create({ image: "busybox", command: ["true"] });
      assertEquals(created.id, reserved.box);
      // Created, the dir is the box's (its row names it); its record names the waiting launcher
      // until the box starts.
      assertEquals((await boxes.inspect(created.id)).state, "created");
      assertEquals(reservedStateDirs(home).filter((r) => r.pid === launcher).length, 1);
      const createdGroups = await cgroupDirsOf(created.id);
      assert(createdGroups.length > 0 || (await detectCgroupMode()) !== "v1");
      await boxes.remove(created.id, true);
      assert(!running(launcher), "the launcher of a removed box waits on");
      assert(!existsSync(reserved.dir));
      assertEquals(createdGroups.filter((dir) => existsSync(dir)), []);
      assertEquals(driver.prestartedStarts, 0);
    });
  },
);

/** The spec each prestarted launcher is handed while `body` runs, in order. */
async function specsSent(body: () => Promise<void>): Promise<string[][]> {
  const sent: string[][] = [];
  const sendSync = PrestartedLauncher.prototype.sendSync;
  PrestartedLauncher.prototype.sendSync = function (this: PrestartedLauncher, args: string[]) {
    sent.push([...args]);
    return sendSync.call(this, args);
  };
  try {
    await body();
  } finally {
    PrestartedLauncher.prototype.sendSync = sendSync;
  }
  return sent;
}

/** A spec with box `id`'s own id (full and as its dir's name) written as placeholders. */
function withoutId(args: string[], id: string): string[] {
  return args.map((arg) => arg.replaceAll(id, "<id>").replaceAll(id.slice(0, 12), "<id12>"));
}

Deno.test(
  "prestart: a start from the launcher's template hands it the same spec and bubblewrap arguments as one worked out in full",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      await runAttached(boxes, "true");
      const request = {
        image: "busybox",
        command: ["sh", "-c", "echo $A $(hostname) $(id -u)"],
        env: { A: "1" },
        volumes: [{ host: home, guest: "/mnt/home", readOnly: true }],
        limits: { memoryBytes: 64 * 1024 * 1024 },
      };
      const outputs: string[] = [];
      const ids: string[] = [];
      const run = async (extra: Record<string, unknown>) => {
        await launcherReady(home);
        const { info, output } = await boxes.run({ ...request, ...extra }, { attach: true });
        let text = "";
        for await (const chunk of output!) text += new TextDecoder().decode(chunk.data);
        outputs.push(text);
        ids.push(info.id);
      };
      const sent = await specsSent(async () => {
        // The usual box: bubblewrap's head comes from the launcher's template.
        await run({});
        assertEquals(driver.templatedStarts, 1);
        // The same settings given as an empty security object: not the template's inputs (a
        // security object of its own), so every argument is worked out as without a template.
        await run({ security: {} });
        assertEquals(driver.templatedStarts, 1);
        // Inputs the template was not made for are worked out in full too, and say so.
        await run({ hostname: "named" });
        await run({ user: "nobody" });
        await run({ network: "host" });
        assertEquals(driver.templatedStarts, 1);
      });
      assertEquals(driver.prestartedStarts, 5);
      assertEquals(sent.length, 5);
      // Byte for byte the same spec, the box's own id aside, and the same output.
      assertEquals(withoutId(sent[0], ids[0]), withoutId(sent[1], ids[1]));
      assertEquals(outputs[0], `1 ${ids[0].slice(0, 12)} 0\n`);
      assertEquals(outputs[1], `1 ${ids[1].slice(0, 12)} 0\n`);
      // The others carry what they asked for.
      assert(sent[2].join(" ").includes("--hostname named"), sent[2].join(" "));
      assertEquals(outputs[2], "1 named 0\n");
      assertEquals(outputs[3], `1 ${ids[3].slice(0, 12)} 65534\n`);
      assert(!sent[4].includes("--unshare-net"), sent[4].join(" "));
      assert(sent[0].includes("--unshare-net"));
    });
  },
);

Deno.test(
  "prestart: a test home's teardown takes a waiting launcher, its dir and its groups",
  options,
  async () => {
    const { home, boxes } = await openNamespaceBoxes({ prestart: true });
    try {
      const { id } = await runAttached(boxes, "true");
      await boxes.remove(id, true);
      const pid = await launcherReady(home.home);
      const groups = await launcherCgroups(home.home);
      assert(groups.length > 0 || (await detectCgroupMode()) !== "v1");
      // Closed without `boxes.close()`: what a failed test leaves to its home's teardown.
      await home.close();
      assert(!running(pid), "the waiting launcher outlived its home");
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      assert(!existsSync(home.home));
    } finally {
      boxes.close();
      if (existsSync(home.home)) removeTestHome(home.home);
    }
  },
);

Deno.test(
  "prestart: a runtime opened with prestart (serve) has a launcher ready for its first box; the CLI's has none",
  options,
  async () => {
    const home = await testHome();
    const cli = await openBoxRuntime({ store: home.store, home: home.home });
    let served: BoxManager | undefined;
    try {
      await addBusybox(cli.images);
      // A served runtime on a data dir whose agent was never built makes no launcher (nor
      // compiles the agent) when it opens: its first box builds the agent, as before.
      const early = await openBoxRuntime({ store: home.store, home: home.home, prestart: true });
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(launchersOf(home.home), []);
      assertEquals(existsSync(join(home.home, "box", "agent")), false);
      early.close();
      // The CLI's runtime (no prestart) starts its box the usual way and leaves no launcher; its
      // first box builds the agent in the data dir, as a fresh serve's first box would.
      const { info: built } = await cli.run({ image: "busybox", command: ["true"] });
      await cli.wait(built.id);
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(launchersOf(home.home), []);
      served = await openBoxRuntime({ store: home.store, home: home.home, prestart: true });
      // The agent is built already: its pool of two launchers is made at once.
      const twoWaiting = async (seconds: number) => {
        await pollUntil(() => waitingLaunchers(home.home).length >= 2, seconds * 1000);
        return waitingLaunchers(home.home);
      };
      const waiting = await twoWaiting(10);
      assertEquals(waiting.length, 2, "the served runtime's two launchers");
      await new Promise((r) => setTimeout(r, 30));
      const { info, output } = await served.run(
        { image: "busybox", command: ["echo", "first"] },
        { attach: true },
      );
      let text = "";
      for await (const chunk of output!) text += new TextDecoder().decode(chunk.data);
      assertEquals(text, "first\n");
      const stateDir = join(home.home, "box", "boxes", info.id.slice(0, 12));
      const pid = JSON.parse(Deno.readTextFileSync(join(stateDir, "pid.json"))).pid;
      assert(waiting.includes(pid), `box ran on ${pid}, not one of ${waiting}`);
      // A CLI box beside it adds none: two wait, the served runtime's pool refilled.
      const { info: other } = await cli.run({ image: "busybox", command: ["true"] });
      await cli.wait(other.id);
      assertEquals(
        (await twoWaiting(10)).length,
        2,
        "only the served runtime's launchers, its pool refilled",
      );
    } finally {
      for (const box of await cli.list({ all: true })) await cli.remove(box.id, true);
      served?.close();
      cli.close();
      await home.close();
    }
  },
);

Deno.test(
  "prestart: with a pool of two, a box started right after another finds a launcher ready too",
  options,
  async () => {
    await withPrestarting(async (boxes, driver, home) => {
      await runAttached(boxes, "true");
      // Both launchers of the pool wait, one after the other's quiet spell.
      await pollUntil(() => waitingLaunchers(home).length >= 2, 10_000);
      assertEquals(waitingLaunchers(home).length, 2);
      // Time for the driver to read both launchers' prepared byte, on a loaded host too.
      await new Promise((r) => setTimeout(r, 100));
      // Back to back: the second starts the moment the first's output arrived.
      const first = await runAttached(boxes, "echo one");
      const second = await runAttached(boxes, "echo two");
      assertEquals([first.text, second.text], ["one\n", "two\n"]);
      assertEquals(driver.prestartedStarts, 2);
      // The pool refills to two; closing takes both with their dirs and groups.
      await pollUntil(() => waitingLaunchers(home).length >= 2, 10_000);
      const waiting = waitingLaunchers(home);
      assertEquals(waiting.length, 2);
      const groups = await launcherCgroups(home);
      const dirs = reservedStateDirs(home).map((reserved) => reserved.dir);
      assertEquals(dirs.length, 2);
      boxes.close();
      await pollUntil(
        () =>
          !waiting.some(running) && !groups.some((dir) => existsSync(dir)) &&
          !dirs.some((dir) => existsSync(dir)),
        5000,
      );
      assertEquals(waiting.filter(running), []);
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      assertEquals(dirs.filter((dir) => existsSync(dir)), []);
    }, 2);
  },
);

Deno.test(
  "prestart: launcher-named groups and dirs whose owner died (an earlier version's) are swept",
  options,
  async () => {
    const mode = await detectCgroupMode();
    if (mode === "none") return;
    // An owner that is gone: a process that ran and exited.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const name = `.launcher-${gone.pid}-1-${crypto.randomUUID().slice(0, 8)}`;
    const groups = new BoxCgroup(mode, name).dirs;
    for (const dir of groups) Deno.mkdirSync(dir);
    // And one of a live owner (this process), which stays.
    const mine = (await launcherCgroupName()).dirs;
    for (const dir of mine) Deno.mkdirSync(dir);
    // A launcher dir of an earlier version (made under the owner's name) in a boxes dir.
    const boxesDir = await Deno.makeTempDir({ prefix: "a3s-boxes" });
    Deno.mkdirSync(join(boxesDir, name, "dev"), { recursive: true });
    try {
      const parents = [...new Set(groups.map((dir) => join(dir, "..")))];
      const removed = sweepAbandonedLauncherGroups(parents);
      for (const dir of groups) assert(removed.includes(dir), `${dir} not swept: ${removed}`);
      assertEquals(groups.filter((dir) => existsSync(dir)), []);
      assertEquals(mine.filter((dir) => existsSync(dir)), mine);
      assertEquals(sweepAbandonedLauncherDirs(boxesDir), [join(boxesDir, name)]);
      assertEquals([...Deno.readDirSync(boxesDir)], []);
    } finally {
      Deno.removeSync(boxesDir, { recursive: true });
      for (const dir of [...groups, ...mine]) {
        try {
          Deno.removeSync(dir);
        } catch { /* removed by the sweep */ }
      }
    }
  },
);

/** The groups a launcher of this (live) process would have, under a fresh name. */
async function launcherCgroupName(): Promise<BoxCgroup> {
  const start = processIdentitySync(Deno.pid)!.startTime;
  return new BoxCgroup(
    await detectCgroupMode(),
    `.launcher-${Deno.pid}-${start}-${crypto.randomUUID().slice(0, 8)}`,
  );
}
