/**
 * A QEMU box's logs are bounded as a namespace box's are: the console QEMU writes goes through
 * the log keeper (`a3s-agent keep-logs`), so a box writing more than max-size × max-file leaves
 * no more than that on disk, and `logs` shows its newest output. Skipped without QEMU or a kernel.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { addBusybox, logStreamBytes, openQemuBoxes } from "../_test_support.ts";
import { logKeeperAlive } from "../log_files.ts";

const MAX_SIZE = 4096;
const MAX_FILES = 3;

Deno.test({
  name: "qemu logs: a VM writing past its bound keeps max-size × max-file, newest last",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    try {
      await addBusybox(home.images);
      // ~40 KB on the console (stdout and stderr alike, as on a terminal): ten times the bound.
      const script = 'i=0; while [ $i -lt 4000 ]; do echo "line $i"; i=$((i+1)); done; ' +
        "echo the-end >&2";
      const { info } = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", script],
        driver: "qemu",
        timeoutSeconds: 300,
        logBound: { maxSize: MAX_SIZE, maxFiles: MAX_FILES },
      });
      const done = await boxes.wait(info.id);
      assertEquals([done.exitCode, done.reason], [0, "exited"]);

      let stdout = "";
      const decoder = new TextDecoder();
      for await (const chunk of boxes.logs(info.id)) {
        if (chunk.stream === "stdout") stdout += decoder.decode(chunk.data);
      }
      const stateDir = join(home.home, "box", "boxes", info.id.slice(0, 12));
      const bytes = await logStreamBytes(stateDir, "stdout.log");
      assert(bytes <= MAX_SIZE * MAX_FILES, `stdout.log: ${bytes} bytes on disk`);
      assert(bytes > MAX_SIZE, `stdout.log: ${bytes} bytes, rotation kept too little`);
      assert((await logStreamBytes(stateDir, "stderr.log")) <= MAX_SIZE * MAX_FILES);
      assert(!logKeeperAlive(join(stateDir, "stdout.log")), "the keeper outlived QEMU");
      // The newest output is there, in order, and the oldest was rotated away.
      assert(stdout.endsWith("line 3999\nthe-end\n"), stdout.slice(-64));
      assert(!stdout.includes("line 0\n"));
      const numbers = stdout.split("\n").filter((l) => l.startsWith("line ")).slice(1)
        .map((l) => Number(l.slice(5)));
      for (let k = 1; k < numbers.length; k++) assertEquals(numbers[k], numbers[k - 1] + 1);
    } finally {
      await vm.close();
    }
  },
});
