/**
 * The manager on the real namespace driver (bubblewrap): lifecycle, exec, copy, logs, and the
 * security properties the issue asks for, each proven from inside a real box.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError, openStore } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import type { BoxTables } from "./schema.ts";
import { ImageStore } from "./image/store.ts";
import { addBusybox, TEST_AGENT_CACHE, withNamespaceBoxes } from "./_test_support.ts";
import { busyboxImage } from "./image/busybox.ts";
import { bootSeconds } from "./metrics.ts";
import { BoxManager } from "./manager.ts";
import { NamespaceDriver } from "./drivers/namespace.ts";
import { detectCgroupMode } from "./drivers/cgroup.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

const withManager = withNamespaceBoxes;

async function run(boxes: BoxManager, box: string, command: string[], stdin?: string) {
  const process = await boxes.exec(box, { command });
  const writer = process.stdin.getWriter();
  if (stdin) await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const [stdout, stderr, status] = await Promise.all([
    new Response(process.stdout).text(),
    new Response(process.stderr).text(),
    process.status,
  ]);
  return { stdout, stderr, ...status };
}

async function logs(boxes: BoxManager, box: string): Promise<string> {
  let text = "";
  for await (const chunk of boxes.logs(box)) text += decode(chunk.data);
  return text;
}

Deno.test("run, wait, logs and remove a box; names are unique", async () => {
  await withManager(async (boxes) => {
    const { info } = await boxes.run({
      image: "busybox",
      name: "hello",
      command: ["sh", "-c", "echo out; echo err >&2; exit 7"],
    });
    assertEquals(info.driver, "namespace");
    const done = await boxes.wait("hello");
    assertEquals([done.state, done.exitCode, done.reason], ["exited", 7, "exited"]);
    const text = await logs(boxes, "hello");
    assert(text.includes("out") && text.includes("err"), text);
    const error = await assertRejects(
      () => boxes.create({ image: "busybox", name: "hello" }),
      A3sError,
      "already in use",
    );
    assertEquals(error.status, 409);
    await assertRejects(() => boxes.create({ image: "nope:1" }), A3sError, "no such image");
    assertEquals((await boxes.list()).length, 0);
    assertEquals((await boxes.list({ all: true })).length, 1);
    await boxes.remove("hello");
    assertEquals((await boxes.list({ all: true })).length, 0);
    const actions = (await boxes.events(info.id)).map((e) => e.action);
    assertEquals(actions, ["create", "delete"]);
  });
});

Deno.test("exec: stdin, separate stdout and stderr, exit codes, copy in and out, stop", async () => {
  await withManager(async (boxes) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    const result = await run(boxes, info.id, ["sh", "-c", "cat; echo oops >&2; exit 3"], "input");
    assertEquals([result.stdout, result.stderr, result.exitCode], ["input", "oops\n", 3]);
    const missing = await run(boxes, info.id, ["/no/such/binary"]);
    assertEquals(missing.exitCode, 127);

    await boxes.copyIn(info.id, new TextEncoder().encode("payload"), "/root/file.txt");
    assertEquals(decode(await boxes.copyOut(info.id, "/root/file.txt")), "payload");
    assertEquals((await run(boxes, info.id, ["cat", "/root/file.txt"])).stdout, "payload");

    // The rootfs is read-only underneath: writes land in the box's own overlay.
    await run(boxes, info.id, ["sh", "-c", "echo changed > /etc/os-release"]);
    const rootfs = await boxes.images.rootfs(info.imageId);
    assert((await Deno.readTextFile(join(rootfs, "etc/os-release"))).includes("a3s busybox"));

    const stats = await boxes.stats(info.id);
    assert(stats.pids === undefined || stats.pids >= 2, JSON.stringify(stats));
    const started = performance.now();
    const stopped = await boxes.stop(info.id, 5);
    assert(performance.now() - started < 4000, "sleep ends on SIGTERM, no grace wait");
    assertEquals([stopped.state, stopped.reason], ["exited", "stopped"]);
    await assertRejects(() => boxes.exec(info.id, { command: ["true"] }), A3sError, "not running");
  });
});

Deno.test("a secret on a command line reaches neither the audit trail nor the log sink", async () => {
  await withManager(async (_, home) => {
    const audited: Record<string, unknown>[] = [];
    const boxes = await BoxManager.open({
      store: home.store,
      images: home.images,
      home: home.home,
      drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })],
      audit: (event) => audited.push(event.detail),
    });
    try {
      const secret = "password=hunter2correcthorse";
      const { info } = await boxes.run({ image: "busybox", command: ["sh", "-c", "sleep 60"] });
      const result = await run(boxes, info.id, ["sh", "-c", `echo ${secret} ada@example.org`]);
      // The box still runs the command as given.
      assertEquals(result.stdout, `${secret} ada@example.org\n`);
      // exec_exit is written once the status settles, just after `run` has it.
      for (let i = 0; i < 100 && !audited.some((d) => "exitCode" in d); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await boxes.remove(info.id, true);
      const stored = await home.store.db<BoxTables>().selectFrom("box_events").select("detail")
        .where("box_id", "=", info.id).execute();
      const everything = JSON.stringify([stored, audited, await boxes.events(info.id)]);
      assert(!everything.includes("hunter2"), everything);
      assert(!everything.includes("ada@example.org"), everything);
      const exec = (await boxes.events(info.id)).find((e) => e.action === "exec");
      assertEquals(exec?.detail.command, ["sh", "-c", "echo password=[SECRET] [EMAIL]"]);
      assertEquals(audited.filter((d) => d.exitCode === 0).length, 1);
    } finally {
      boxes.close();
    }
  });
});

Deno.test("security: no host files, no host processes, no network", async () => {
  await withManager(async (boxes) => {
    const marker = await Deno.makeTempFile({ dir: "/tmp", prefix: "a3s-secret" });
    await Deno.writeTextFile(marker, "host secret");
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("reached"),
    );
    try {
      const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
      const file = await run(boxes, info.id, ["cat", marker]);
      assert(file.exitCode !== 0 && !file.stdout.includes("host secret"), file.stdout);
      const procs = await run(boxes, info.id, [
        "sh",
        "-c",
        `ls /proc | grep -c '^[0-9]'; test -e /proc/${Deno.pid}`,
      ]);
      assert(Number(procs.stdout.trim()) < 10, `box sees ${procs.stdout} processes`);
      assert(procs.exitCode !== 0, "the test process is invisible in the box");
      const net = await run(boxes, info.id, [
        "sh",
        "-c",
        `wget -q -T 2 -O - http://127.0.0.1:${server.addr.port}/; cat /proc/net/dev`,
      ]);
      assert(!net.stdout.includes("reached"), "the host server was reached");
      assert(!/eth|ens|enp/.test(net.stdout), net.stdout);
      const mount = await run(boxes, info.id, ["mount", "-t", "tmpfs", "x", "/mnt"]);
      assert(mount.exitCode !== 0, "mount is blocked by seccomp");
    } finally {
      await server.shutdown();
      await Deno.remove(marker);
    }
  });
});

Deno.test("limits: memory bomb is killed as oom, fork bomb contained, timeout enforced", async () => {
  if ((await detectCgroupMode()) === "none") {
    console.log("SKIPPED: this host lets box create no cgroups (run as root for limits)");
    return;
  }
  await withManager(async (boxes) => {
    const memory = await boxes.run({
      image: "busybox",
      command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"],
      limits: { memoryBytes: 32 * 1024 * 1024 },
    });
    const oom = await boxes.wait(memory.info.id);
    assertEquals([oom.exitCode, oom.reason], [137, "oom"]);

    const started = performance.now();
    const bomb = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "b() { b | b & }; b; sleep 30"],
      limits: { pids: 64 },
      timeoutSeconds: 2,
    });
    const contained = await boxes.wait(bomb.info.id);
    assert(performance.now() - started < 10_000, "the fork bomb box ended");
    assertEquals(contained.state, "exited");
    assert(["timeout", "pids_limit"].includes(contained.reason ?? ""), contained.reason ?? "");

    const slow = await boxes.run({ image: "busybox", command: ["sleep", "60"], timeoutSeconds: 1 });
    const timedOut = await boxes.wait(slow.info.id);
    assertEquals([timedOut.exitCode, timedOut.reason], [137, "timeout"]);
  });
});

Deno.test("a memory-bomb box reads as oom even to an observer polling without pause", async () => {
  if ((await detectCgroupMode()) === "none") {
    console.log("SKIPPED: this host lets box create no cgroups (run as root for limits)");
    return;
  }
  // Each poll straddles the box's end at some point; the OOM counter must be read once the box
  // is seen gone, never before (that order once read a box killed for memory as `exited`).
  await withManager(async (boxes) => {
    for (let round = 0; round < 6; round++) {
      const { info } = await boxes.run({
        image: "busybox",
        command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"],
        limits: { memoryBytes: 32 * 1024 * 1024 },
      });
      let seen = await boxes.inspect(info.id);
      const deadline = Date.now() + 20_000;
      while (seen.state === "running" && Date.now() < deadline) seen = await boxes.inspect(info.id);
      assertEquals([seen.exitCode, seen.reason], [137, "oom"], `round ${round}`);
      await boxes.remove(info.id, true);
    }
  });
});

Deno.test("a followed box's output arrives as it is written, not at the next poll", async () => {
  await withManager(async (boxes) => {
    // 20 lines 25 ms apart: a follower polling every 100 ms would see them in about 5 batches.
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "for i in $(seq 20); do echo $i; sleep 0.025; done"],
    });
    const chunks: string[] = [];
    const stop = AbortSignal.timeout(20_000);
    for await (const chunk of boxes.logs(info.id, { follow: true, signal: stop })) {
      chunks.push(decode(chunk.data));
    }
    assertEquals(
      chunks.join("").trim().split("\n").map(Number),
      [...Array(20)].map((_, i) => i + 1),
    );
    assert(chunks.length >= 10, `the output came in ${chunks.length} batches`);
  });
});

Deno.test("a box whose processes died unseen reads as exited, never a ghost", async () => {
  await withManager(async (boxes, home) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    // Simulate the host dying under the box: kill every process behind the manager's back.
    const pid = JSON.parse(
      await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
    ).pid;
    const children = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`)).trim();
    Deno.kill(Number(children.split(" ")[0]), "SIGKILL");
    const seen = await boxes.wait(info.id);
    assertEquals([seen.state, seen.reason], ["exited", "killed"]);
  });
});

Deno.test("a box from before a host restart reads as exited with reason host_restart", async () => {
  await withManager(async (boxes, home) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    const db = home.store.db<BoxTables>();
    const row = await db.selectFrom("box_boxes").select("spec").where("id", "=", info.id)
      .executeTakeFirstOrThrow();
    // The record says it started under another boot; its process is gone as after a reboot.
    await db.updateTable("box_boxes")
      .set({ spec: JSON.stringify({ ...JSON.parse(row.spec), bootId: "another-boot" }) })
      .where("id", "=", info.id).execute();
    const pid = JSON.parse(
      await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
    ).pid;
    const init = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`)).trim();
    Deno.kill(Number(init.split(" ")[0]), "SIGKILL");
    const seen = await boxes.wait(info.id);
    assertEquals([seen.state, seen.reason], ["exited", "host_restart"]);
  });
});

Deno.test("box state on PostgreSQL: images, boxes and events in the shared store", async () => {
  const database = await createTestDatabase("a3s_box");
  if (!database) return;
  const dir = await makeTestHomeDir("a3sbp");
  const store = await openStore({ databaseUrl: database.url });
  try {
    const images = await ImageStore.open(store, join(dir, "images"));
    await addBusybox(images);
    const boxes = await BoxManager.open({
      store,
      images,
      home: dir,
      drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-test-agent" })],
    });
    const { info } = await boxes.run({ image: "busybox", command: ["sh", "-c", "exit 5"] });
    const done = await boxes.wait(info.id);
    assertEquals([done.exitCode, typeof done.createdAt], [5, "number"]);
    assertEquals((await images.list())[0].repoTags, ["busybox:latest"]);
    await boxes.remove(info.id);
    assertEquals((await boxes.events(info.id)).map((e) => e.action), ["create", "delete"]);
    boxes.close();
  } finally {
    await store.close();
    await database.drop();
    removeTestHome(dir);
  }
});

Deno.test("an entrypoint given without a command drops the image's Cmd, as Docker's --entrypoint does", async () => {
  await withManager(async (boxes) => {
    const { info } = await boxes.run({ image: "busybox", entrypoint: ["echo", "only"] });
    await boxes.wait(info.id);
    assertEquals((await logs(boxes, info.id)).trim(), "only");
    const withArgs = await boxes.run({
      image: "busybox",
      entrypoint: ["echo"],
      command: ["a", "b"],
    });
    await boxes.wait(withArgs.info.id);
    assertEquals((await logs(boxes, withArgs.info.id)).trim(), "a b");
  });
});

Deno.test("a box's defaults come from the image its tag names now: a retag or re-pull in another process is seen", async () => {
  await withManager(async (boxes, home) => {
    // Another process on the same data dir (the CLI beside `serve`): its own image store.
    const store = await openStore({ sqlitePath: join(home.home, "a3s.db") });
    try {
      const other = await ImageStore.open(store, join(home.home, "images"));
      const { layer, config } = await busyboxImage();
      const imageWith = (env: string, cmd: string[], tag: string) =>
        other.createImage([layer], { ...config, config: { Env: [env], Cmd: cmd } }, [tag]);
      await imageWith("WHICH=one", ["echo", "one"], "app:1");
      const first = await boxes.create({ image: "app:1" });
      assertEquals([first.env.WHICH, first.command.join(" ")], ["one", "echo one"]);
      // Created again: the same image's defaults (its config parsed once, kept with its row).
      const again = await boxes.create({ image: "app:1" });
      assertEquals([again.env.WHICH, again.command.join(" ")], ["one", "echo one"]);
      // Retagged by the other process to an image with other defaults: the next box has them.
      const two = await imageWith("WHICH=two", ["echo", "two"], "app:2");
      await other.tag(two, "app:1");
      const retagged = await boxes.create({ image: "app:1" });
      assertEquals([retagged.env.WHICH, retagged.command.join(" ")], ["two", "echo two"]);
      // Removed and pulled again with a third config: the box has the third.
      await other.remove("app:1", () => Promise.resolve(false));
      await assertRejects(() => boxes.create({ image: "app:1" }), A3sError);
      await imageWith("WHICH=three", ["echo", "three"], "app:1");
      const repulled = await boxes.create({ image: "app:1" });
      assertEquals([repulled.env.WHICH, repulled.command.join(" ")], ["three", "echo three"]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("an attached run's row is written after its first output; every read of the manager sees the box before that, another process soon after", async () => {
  await withManager(async (boxes, home) => {
    const store = await openStore({ sqlitePath: join(home.home, "a3s.db") });
    const other = await BoxManager.open({
      store,
      images: await ImageStore.open(store, join(home.home, "images")),
      home: home.home,
      drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })],
    });
    try {
      for (const read of ["inspect", "list", "events", "remove"] as const) {
        const { info, output } = await boxes.run(
          { image: "busybox", command: ["sh", "-c", "echo one; sleep 5"] },
          { attach: true },
        );
        // Asked at once, before the caller read anything: the manager answers for the box.
        if (read === "inspect") assertEquals((await boxes.inspect(info.id)).state, "running");
        if (read === "list") {
          assert((await boxes.list()).some((box) => box.id === info.id));
        }
        if (read === "events") {
          assertEquals((await boxes.events(info.id)).map((event) => event.action), ["create"]);
        }
        if (read === "remove") {
          await boxes.remove(info.id, true);
          assertEquals((await other.list({ all: true })).filter((b) => b.id === info.id), []);
          continue;
        }
        let text = "";
        for await (const chunk of output!) {
          text += decode(chunk.data);
          if (text.includes("\n")) break;
        }
        assertEquals(text, "one\n");
        // Another process on the store sees the box, running, with its audit entry.
        await new Promise((r) => setTimeout(r, 20));
        const seen = (await other.list()).find((box) => box.id === info.id);
        assertEquals(seen?.state, "running");
        assertEquals((await other.events(info.id)).map((event) => event.action), ["create"]);
        await boxes.remove(info.id, true);
      }
      // The row of an attached run nobody reads from is written all the same, and its boot
      // time recorded.
      const boots = async () =>
        (await bootSeconds.get()).values.find((v) =>
          v.metricName === "a3s_box_boot_seconds_count" && v.labels.driver === "namespace"
        )?.value ?? 0;
      const bootsBefore = await boots();
      const { info: unread } = await boxes.run(
        { image: "busybox", command: ["sleep", "5"] },
        { attach: true },
      );
      await new Promise((r) => setTimeout(r, 50));
      assertEquals((await other.inspect(unread.id)).state, "running");
      assertEquals(await boots(), bootsBefore + 1);
      await boxes.remove(unread.id, true);
    } finally {
      other.close();
      await store.close();
    }
  });
});
