/**
 * A QEMU box's logs: the main command's stdout and stderr leave the VM on ports of their own and
 * land in `stdout.log` and `stderr.log` apart, as a namespace box's do, with the kernel's, the
 * agent's and QEMU's messages in `vm.log`; each is bounded as a namespace box's logs are (the
 * same keeper), and a follower reads across the rotations without losing or repeating a line.
 * Skipped without QEMU or a kernel.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { addBusybox, logStreamBytes, openQemuBoxes } from "../_test_support.ts";
import { logKeeperAlive, readLogSince } from "../log_files.ts";

const MAX_SIZE = 4096;
const MAX_FILES = 3;
const LINES = 3000;

/** Numbers of the lines `prefix N` in `text`, in order. */
function numbered(text: string, prefix: string): number[] {
  return text.split("\n").filter((line) => line.startsWith(prefix))
    .map((line) => Number(line.slice(prefix.length)));
}

Deno.test({
  name: "qemu logs: stdout and stderr apart, each bounded, followed across rotations",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    try {
      await addBusybox(home.images);
      // ~30 KB on stdout and ~3 KB on stderr in batches (the follower keeps up with them),
      // several times the 12 KB bound of stdout.
      const script = `sleep 1; i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; ` +
        `if [ $((i % 10)) = 0 ]; then echo "err $i" >&2; fi; ` +
        `if [ $((i % 100)) = 99 ]; then sleep 0.1; fi; i=$((i+1)); done; echo the-end >&2`;
      const { info } = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", script],
        driver: "qemu",
        timeoutSeconds: 300,
        logBound: { maxSize: MAX_SIZE, maxFiles: MAX_FILES },
      });
      const decoder = new TextDecoder();
      const followed = { stdout: "", stderr: "" };
      for await (const chunk of boxes.logs(info.id, { follow: true })) {
        followed[chunk.stream] += decoder.decode(chunk.data, { stream: true });
      }
      const done = await boxes.wait(info.id);
      assertEquals([done.exitCode, done.reason], [0, "exited"]);

      // Followed: every line once, in order, each on its own stream.
      const all = Array.from({ length: LINES }, (_, i) => i);
      assertEquals(numbered(followed.stdout, "line "), all);
      assertEquals(numbered(followed.stderr, "err "), all.filter((i) => i % 10 === 0));
      assert(followed.stderr.endsWith("the-end\n"), followed.stderr.slice(-32));
      assert(!followed.stdout.includes("err ") && !followed.stdout.includes("the-end"));
      assert(!followed.stdout.includes("a3s-agent"), "the agent's messages reached stdout");

      // On disk: at most the bound per stream, the newest kept.
      const stateDir = join(home.home, "box", "boxes", info.id.slice(0, 12));
      const bytes = await logStreamBytes(stateDir, "stdout.log");
      assert(bytes <= MAX_SIZE * MAX_FILES, `stdout.log: ${bytes} bytes on disk`);
      assert(bytes > MAX_SIZE, `stdout.log: ${bytes} bytes, rotation kept too little`);
      assert((await logStreamBytes(stateDir, "stderr.log")) <= MAX_SIZE * MAX_FILES);
      assert((await logStreamBytes(stateDir, "vm.log")) <= MAX_SIZE * MAX_FILES);
      assert(!logKeeperAlive(join(stateDir, "stdout.log")), "the keeper outlived QEMU");
      const logs = { stdout: "", stderr: "" };
      for await (const chunk of boxes.logs(info.id)) {
        logs[chunk.stream] += decoder.decode(chunk.data, { stream: true });
      }
      assert(logs.stdout.endsWith(`line ${LINES - 1}\n`), logs.stdout.slice(-64));
      assert(!logs.stdout.includes("line 0\n"), "the oldest output was kept");
      const kept = numbered(logs.stdout, "line ").slice(1);
      for (let k = 1; k < kept.length; k++) assertEquals(kept[k], kept[k - 1] + 1);
      assertEquals(logs.stderr, followed.stderr);
      // The agent's own messages went to the VM's log, not to the box's streams.
      let messages = "";
      for (const part of readLogSince(join(stateDir, "vm.log"), { value: 0 })) {
        messages += decoder.decode(part);
      }
      assert(messages.includes("a3s-agent: ready"), messages);
    } finally {
      await vm.close();
    }
  },
});
