/**
 * A pod on the qemu driver, on real QEMU (TCG here): one sandbox VM boots once and its members
 * run inside it as guest containers. One boot does every check, since each takes tens of
 * seconds under TCG: members reach each other on localhost, have their own rootfs, pids and
 * exits, their own cgroup limits, volumes, users and a terminal, while the host runs one VM;
 * their logs are bounded as any box's, with stdout and stderr apart.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { addBusybox, execText, logStreamBytes, openQemuBoxes } from "../_test_support.ts";
import type { BoxManager } from "../manager.ts";
import { join } from "node:path";

const decoder = new TextDecoder();

const run = execText;

async function logs(boxes: BoxManager, box: string): Promise<string> {
  let text = "";
  for await (const chunk of boxes.logs(box)) text += decoder.decode(chunk.data);
  return text;
}

/** A box's logs, each stream on its own. */
async function streams(
  boxes: BoxManager,
  box: string,
): Promise<{ stdout: string; stderr: string }> {
  const text = { stdout: "", stderr: "" };
  for await (const chunk of boxes.logs(box)) text[chunk.stream] += decoder.decode(chunk.data);
  return text;
}

/** Numbers of the lines `prefix N` in `text`, in order. */
function numbered(text: string, prefix: string): number[] {
  return text.split("\n").filter((line) => line.startsWith(prefix))
    .map((line) => Number(line.slice(prefix.length)));
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Host processes whose command line mentions `text` (the VM's state dir). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.startsWith("qemu-system") && cmdline.includes(text)) pids.push(Number(entry.name));
  }
  return pids;
}

Deno.test({
  name: "qemu pod: members share one VM and its network, with their own rootfs, pids and exits",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    const volume = await Deno.makeTempDir({ dir: home.home, prefix: "vol" });
    await Deno.writeTextFile(join(volume, "from-host"), "host data");
    try {
      await addBusybox(home.images);
      // Its members keep the pod's log bound unless they ask for another.
      const podBound = { maxSize: 64 * 1024, maxFiles: 2 };
      const { info: sandbox } = await boxes.run({
        image: "busybox",
        idle: true,
        driver: "qemu",
        podSandbox: true,
        hostname: "the-pod",
        logBound: podBound,
      });
      const member = (name: string, command: string[], extra = {}) =>
        boxes.run({ image: "busybox", name, command, pod: sandbox.id, ...extra });

      const { info: web } = await member(
        "web",
        [
          "sh",
          "-c",
          "mkdir -p /www && echo served by web > /www/index.html && httpd -f -p 8080 -h /www",
        ],
        {
          volumes: [{ host: volume, guest: "/data", readOnly: false }],
          limits: { memoryBytes: 64 * 1024 * 1024, pids: 50 },
        },
      );
      const { info: client } = await member("client", ["sh", "-c", "echo client up; sleep 600"]);
      const { info: quitter } = await member("quitter", ["sh", "-c", "echo bye >&2; exit 3"]);
      assertEquals([web.driver, client.driver], ["qemu", "qemu"]);

      // One VM on the host for the whole pod; every member reports it as its process.
      const vms = await processesMentioning(join("box/boxes", sandbox.id.slice(0, 12)));
      assertEquals(vms.length, 1);
      assertEquals((await processesMentioning("box/boxes")).length, 1);

      // Separate exits: the quitter ended with its own code, the others run on.
      const quit = await boxes.wait(quitter.id);
      assertEquals([quit.exitCode, quit.reason], [3, "exited"]);
      assertEquals(await logs(boxes, quitter.id), "bye\n");
      assertEquals(await streams(boxes, quitter.id), { stdout: "", stderr: "bye\n" });
      assertEquals(quitter.logBound, podBound);

      // A chatty member is bounded as any box is, its streams apart; a follower reads it whole
      // across the rotations.
      const lines = 2000;
      const chattyScript = `sleep 1; i=0; while [ $i -lt ${lines} ]; do echo "line $i"; ` +
        `if [ $((i % 10)) = 0 ]; then echo "err $i" >&2; fi; ` +
        `if [ $((i % 100)) = 99 ]; then sleep 0.1; fi; i=$((i+1)); done`;
      const bound = { maxSize: 4096, maxFiles: 2 };
      const { info: chatty } = await member("chatty", ["sh", "-c", chattyScript], {
        logBound: bound,
      });
      const followed = { stdout: "", stderr: "" };
      for await (const chunk of boxes.logs(chatty.id, { follow: true })) {
        followed[chunk.stream] += decoder.decode(chunk.data, { stream: true });
      }
      assertEquals((await boxes.wait(chatty.id)).exitCode, 0);
      const all = Array.from({ length: lines }, (_, i) => i);
      assertEquals(numbered(followed.stdout, "line "), all);
      assertEquals(numbered(followed.stderr, "err "), all.filter((i) => i % 10 === 0));
      const chattyDir = join(home.home, "box/boxes", chatty.id.slice(0, 12));
      for (const name of ["stdout.log", "stderr.log"]) {
        const bytes = await logStreamBytes(chattyDir, name);
        assert(bytes <= bound.maxSize * bound.maxFiles, `${name}: ${bytes} bytes on disk`);
      }
      const kept = await streams(boxes, chatty.id);
      assert(kept.stdout.endsWith(`line ${lines - 1}\n`), kept.stdout.slice(-64));
      assert(!kept.stdout.includes("line 0\n"), "the oldest output was kept");
      assertEquals((await boxes.inspect(client.id)).state, "running");
      await eventually(
        "the client's log",
        async () => (await logs(boxes, client.id)) === "client up\n",
      );

      // The pod's network is the VM's: the client reaches web's server on localhost.
      let fetched = "";
      await eventually("web's server", async () => {
        fetched = (await run(boxes, client.id, [
          "sh",
          "-c",
          "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080",
        ])).stdout;
        return fetched.includes("served by web");
      });
      // ...and the pod's hostname.
      assertEquals((await run(boxes, client.id, ["hostname"])).stdout, "the-pod");

      // Own rootfs: web's file is not the client's; writes land in each one's layer.
      assertEquals((await run(boxes, client.id, ["test", "-e", "/www/index.html"])).exitCode, 1);
      await run(boxes, client.id, ["sh", "-c", "echo mine > /etc/client-only"]);
      assertEquals((await run(boxes, web.id, ["test", "-e", "/etc/client-only"])).exitCode, 1);
      const layer = join(home.home, "box/boxes", client.id.slice(0, 12), "upper");
      assertEquals(await Deno.readTextFile(join(layer, "etc/client-only")), "mine\n");

      // Own pid namespace: each member's command is the first child of its own init (pid 1).
      const webInit = await run(boxes, web.id, ["cat", "/proc/2/cmdline"]);
      const clientInit = await run(boxes, client.id, ["cat", "/proc/2/cmdline"]);
      assert(webInit.stdout.includes("httpd"), webInit.stdout);
      assert(clientInit.stdout.includes("sleep"), clientInit.stdout);
      const visible = await run(boxes, client.id, ["sh", "-c", "ls /proc | grep -c '^[0-9]'"]);
      assert(Number(visible.stdout) <= 6, `the client sees ${visible.stdout} processes`);

      // Volumes, users and cgroup limits per member.
      assertEquals((await run(boxes, web.id, ["cat", "/data/from-host"])).stdout, "host data");
      await run(boxes, web.id, ["sh", "-c", "echo from the pod > /data/back"]);
      assertEquals(await Deno.readTextFile(join(volume, "back")), "from the pod\n");
      assertEquals((await run(boxes, web.id, ["id", "-u"], "nobody")).stdout, "65534");
      const stats = await boxes.stats(web.id);
      assertEquals([stats.memoryLimitBytes, stats.pidsLimit], [64 * 1024 * 1024, 50]);
      assert((stats.pids ?? 0) >= 1 && (stats.memoryBytes ?? 0) > 0, JSON.stringify(stats));
      await boxes.copyIn(web.id, new TextEncoder().encode("copied"), "/tmp/copied");
      assertEquals(decoder.decode(await boxes.copyOut(web.id, "/tmp/copied")), "copied");

      // A terminal for a member's main process: one output stream, resizable.
      const { info: term, stdin } = await member(
        "term",
        ["sh", "-c", "tty; stty size; read line; stty size; echo got $line >&2"],
        { tty: true, interactive: true },
      );
      const writer = stdin!.getWriter();
      await eventually(
        "the terminal's size",
        async () => /\n\d+ \d+/.test(await logs(boxes, term.id)),
      ).catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await logs(boxes, term.id))}`);
      });
      await boxes.resizeTerminal(term.id, 33, 111);
      await writer.write(new TextEncoder().encode("hello\n"));
      await writer.close();
      const ended = await boxes.wait(term.id);
      assertEquals(ended.exitCode, 0);
      const termLog = await logs(boxes, term.id);
      assert(/^\/dev\/pts\/\d+/.test(termLog), termLog);
      assert(termLog.includes("33 111"), termLog);
      // stderr went to the terminal too: the box has one stream.
      assert(termLog.includes("got hello"), termLog);

      // Stopping one member leaves the others and the VM running.
      // The command gets the SIGTERM (its init passes it on): no waiting out the grace period.
      const stopping = performance.now();
      await boxes.stop(web.id, 60);
      assert(performance.now() - stopping < 15_000, "stop waited out its grace period");
      const stopped = await boxes.inspect(web.id);
      assertEquals(stopped.state, "exited");
      assertEquals(stopped.exitCode, 143);
      assertEquals((await boxes.inspect(client.id)).state, "running");
      assertEquals((await run(boxes, client.id, ["echo", "still here"])).stdout, "still here");
      // A member can start again in the same VM, its writable layer kept.
      await boxes.start(web.id);
      const again = await run(boxes, web.id, ["cat", "/tmp/copied"]);
      assertEquals(again.stdout, "copied", JSON.stringify(again));

      // A member runs only in the VM it started in: one that has not been looked at since its
      // pod's VM went down is not running in the next one.
      await boxes.stop(sandbox.id, 1);
      await boxes.start(sandbox.id);
      assertEquals((await boxes.inspect(client.id)).state, "exited");

      // Removing a member unmounts its rootfs and volume; the host's files stay.
      await boxes.remove(web.id, true);
      assertEquals(await Deno.readTextFile(join(volume, "from-host")), "host data");
      const mounts = await Deno.readTextFile("/proc/self/mountinfo");
      assert(!mounts.includes(web.id.slice(0, 12)), "web's mounts are gone");
    } finally {
      // Newest first: the members, then their sandbox.
      await vm.close();
    }
    // Nothing of the pod remains mounted once its boxes are removed.
    const mounts = await Deno.readTextFile("/proc/self/mountinfo");
    assert(!mounts.includes(home.home), "mounts under the test home remain");
  },
});
