/**
 * Named volumes, snapshots, commit, diff and export against real namespace boxes, and the CLI
 * for volumes, history and login (credentials stored with mode 0600).
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError, openStore } from "@a3s/common";
import { addBusybox, openNamespaceBoxes } from "./_test_support.ts";
import type { BoxManager } from "./manager.ts";
import { SnapshotStore } from "./snapshots.ts";
import { commitBox, diffBox, exportBox } from "./builder/commit.ts";
import { readTar } from "./image/tar.ts";
import { main } from "./cli.ts";
import { openBoxRuntime } from "./runtime.ts";
import { authFile } from "./cli_groups.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

const canRun = Deno.uid() === 0 && (await new Deno.Command("bwrap", { args: ["--version"] })
  .output().then((o) => o.success).catch(() => false));

async function sh(boxes: BoxManager, box: string, script: string): Promise<string> {
  const process = await boxes.exec(box, { command: ["sh", "-c", script] });
  await process.stdin.close();
  const [out] = await Promise.all([new Response(process.stdout).text(), process.status]);
  return out;
}

async function runToEnd(boxes: BoxManager, options: Parameters<BoxManager["run"]>[0]) {
  const { info } = await boxes.run(options);
  await boxes.wait(info.id);
  let text = "";
  for await (const chunk of boxes.logs(info.id)) text += decode(chunk.data);
  return { id: info.id, text };
}

Deno.test({
  name: "volumes, snapshots, commit, diff and export on real boxes",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    try {
      // A named volume outlives the box that wrote to it and is shared with the next one.
      const writer = await runToEnd(boxes, {
        image: "busybox",
        volumes: [{ host: "data", guest: "/data", readOnly: false }],
        command: ["sh", "-c", "echo persisted > /data/f"],
      });
      const reader = await runToEnd(boxes, {
        image: "busybox",
        volumes: [{ host: "data", guest: "/data", readOnly: true }],
        command: ["cat", "/data/f"],
      });
      assertEquals(reader.text, "persisted\n");
      assertEquals((await boxes.volumeUsers("data")).length, 2);
      await assertRejects(
        () => boxes.volumes.remove("data", ["x"]),
        A3sError,
        "in use",
      );
      await boxes.remove(writer.id);
      await boxes.remove(reader.id);
      await boxes.volumes.remove("data", await boxes.volumeUsers("data"));
      assertEquals(await boxes.volumes.list(), []);

      // pause freezes every process of the box; unpause lets them go on.
      const ticker = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tick; sleep 0.05; done"],
      });
      const tickFile = join(await boxes.writableLayer(ticker.info.id), "tick");
      // `echo $i > /tick` truncates the file before it writes: a read in between sees it
      // empty (counted as 0), and so may a read while the box is paused between the two.
      const tick = async () => Number((await Deno.readTextFile(tickFile).catch(() => "0")).trim());
      // Waits, polling, for the counter to pass `count`; a generous bound, since a box's
      // processes get a CPU late on a loaded host.
      const tickedPast = async (count: number) => {
        const deadline = Date.now() + 15_000;
        while ((await tick()) <= count && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        return await tick() > count;
      };
      assert(await tickedPast(1), "the ticker never ticked");
      await boxes.setPaused(ticker.info.id, true);
      // Once setPaused returns every process has been sent its stop; a stopped process stays
      // stopped, so the counter holds still however long we look (the one check that needs a
      // window, since it proves an absence).
      await new Promise((r) => setTimeout(r, 100));
      const frozen = await tick();
      await new Promise((r) => setTimeout(r, 400));
      assertEquals(await tick(), frozen);
      await boxes.setPaused(ticker.info.id, false);
      assert(await tickedPast(frozen), `no tick after unpause (frozen at ${frozen})`);
      await boxes.remove(ticker.info.id, true);

      // A snapshot restored brings back the files as they were when it was taken.
      const { info } = await boxes.run({
        image: "busybox",
        name: "snap",
        command: ["sleep", "600"],
      });
      await sh(boxes, "snap", "echo before > /root/a.txt; mkdir -p /srv/app; echo x > /srv/app/x");
      const snapshots = new SnapshotStore(boxes, home.home);
      const snapshot = await snapshots.create("snap", "first");
      assert(snapshot.size > 0);
      await sh(boxes, "snap", "echo after > /root/a.txt; echo new > /root/b.txt; rm /bin/vi");

      const changes = await diffBox(boxes, "snap");
      assert(
        changes.some((c) => c.kind === "A" && c.path === "/root/b.txt"),
        JSON.stringify(changes),
      );
      assert(changes.some((c) => c.kind === "D" && c.path === "/bin/vi"), JSON.stringify(changes));
      assert(changes.some((c) => c.kind === "C" && c.path === "/root"), JSON.stringify(changes));

      // commit: an image of the box as it is now.
      const committed = await commitBox(boxes, "snap", { tags: ["snap:now"], message: "m" });
      const fromCommit = await runToEnd(boxes, {
        image: committed,
        command: ["sh", "-c", "cat /root/a.txt /root/b.txt; test -e /bin/vi || echo no-vi"],
      });
      assertEquals(fromCommit.text, "after\nnew\nno-vi\n");

      // export: the whole filesystem, with deletions applied.
      const exported = new Map(
        [...readTar(await exportBox(boxes, "snap"))].map((e) => [e.path.replace(/\/$/, ""), e]),
      );
      assertEquals(decode(exported.get("root/b.txt")!.data), "new\n");
      assert(exported.has("bin/busybox") && !exported.has("bin/vi"));

      await assertRejects(() => snapshots.restore("first"), A3sError, "running");
      await boxes.stop("snap", 1);
      await snapshots.restore("first");
      await boxes.start("snap");
      assertEquals(
        await sh(boxes, "snap", "cat /root/a.txt /srv/app/x; ls /root; test -e /bin/vi && echo vi"),
        "before\nx\na.txt\nvi\n",
      );
      assertEquals((await snapshots.list()).map((s) => s.name), ["first"]);
      await snapshots.remove("first");
      assertEquals(await snapshots.list(), []);
      await boxes.remove(info.id, true);
    } finally {
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      boxes.close();
      await home.close();
    }
  },
});

async function capture(args: string[], home: string) {
  const out: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...values: unknown[]) => out.push(values.join(" "));
  console.error = (...values: unknown[]) => out.push(values.join(" "));
  try {
    const [command, ...rest] = args;
    const code = await main([command, "--home", home, ...rest]);
    return { code, out: out.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("box CLI: volume, history, login/logout and usage errors", async () => {
  const dir = await makeTestHomeDir("a3sbg");
  try {
    assertEquals((await capture(["volume", "create", "cache"], dir)).out, "cache");
    const listed = await capture(["volume", "ls", "--format", "json"], dir);
    assertEquals(JSON.parse(listed.out).map((v: { name: string }) => v.name), ["cache"]);
    assertEquals((await capture(["volume", "rm", "cache"], dir)).code, 0);
    const bad = await capture(["volume", "create", "../etc"], dir);
    assertEquals(bad.code, 2);
    assert(bad.out.includes("invalid volume name"), bad.out);
    assertEquals((await capture(["volume", "frob"], dir)).code, 2);

    const login = await capture(["login", "-u", "me", "-p", "s3cret", "127.0.0.1:5000"], dir);
    assertEquals(login.out, "Login Succeeded");
    assertEquals((await Deno.stat(authFile(dir))).mode! & 0o777, 0o600);
    assert(!(await Deno.readTextFile(authFile(dir))).includes("s3cret"));
    assertEquals((await capture(["logout", "127.0.0.1:5000"], dir)).code, 0);
    assertEquals((await capture(["logout", "127.0.0.1:5000"], dir)).code, 2);

    const store = await openStore({ sqlitePath: join(dir, "a3s.db") });
    const boxes = await openBoxRuntime({ store, home: dir });
    await addBusybox(boxes.images);
    boxes.close();
    await store.close();
    const history = await capture(["history", "busybox", "--json"], dir);
    assertEquals(history.code, 0);
    assert(Array.isArray(JSON.parse(history.out)));

    const df = JSON.parse((await capture(["df", "--json"], dir)).out);
    assertEquals(df.map((r: { type: string }) => r.type), [
      "Images",
      "Boxes",
      "Local Volumes",
      "Build Cache",
      "Snapshots",
    ]);
    assertEquals(df[0].total, 1);
    assert(df[0].size > 0);
    assertEquals((await capture(["monitor", "--no-stream", "--json"], dir)).out, "[]");
    assertEquals(JSON.parse((await capture(["audit", "--json"], dir)).out), []);
    assertEquals((await capture(["events", "--since", "yesterday-ish"], dir)).code, 2);
    if (canRun) {
      // attach follows a running box's output from now on and returns its exit code.
      const cli = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
          env: { A3S_HOME: dir },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const started = await cli([
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        // Long enough for a second CLI process to start on a loaded machine.
        "echo early; sleep 2; for i in $(seq 1 12); do echo tick $i; sleep 0.3; done; exit 5",
      ]);
      assertEquals(started.code, 0, new TextDecoder().decode(started.stderr));
      const attached = await cli(["attach", "ticker"]);
      const text = new TextDecoder().decode(attached.stdout);
      assertEquals(attached.code, 5, new TextDecoder().decode(attached.stderr));
      assert(text.includes("tick 12\n") && !text.includes("early"), text);
      const removed = await cli(["rm", "-f", "ticker"]);
      assertEquals(removed.code, 0, new TextDecoder().decode(removed.stderr));
    }
    const update = await capture(["container-update", "somebox"], dir);
    assertEquals(update.code, 2);
    assert(update.out.includes("needs --memory"), update.out);
  } finally {
    // Boxes a failed assertion left behind still hold overlay mounts under the dir.
    const store = await openStore({ sqlitePath: join(dir, "a3s.db") });
    const boxes = await openBoxRuntime({ store, home: dir });
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
    boxes.close();
    await store.close();
    removeTestHome(dir);
  }
});
