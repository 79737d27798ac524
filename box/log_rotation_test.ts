/**
 * A box's own logs are bounded (bubblewrap, the namespace driver): a box writing more than
 * max-size × max-file leaves no more than that on disk, `logs` shows its newest output, and a
 * follower reads across the rotations without losing or repeating a line.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { logStreamBytes, withNamespaceBoxes } from "./_test_support.ts";
import { main } from "./cli.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const MAX_SIZE = 16 * 1024;
const MAX_FILES = 3;

Deno.test("box logs: a box writing past its bound keeps max-size × max-file, newest last", async () => {
  await withNamespaceBoxes(async (boxes, home) => {
    // ~390 KB on stdout, ~100 KB on stderr: many times the 48 KB bound of each.
    const script = 'i=0; while [ $i -lt 30000 ]; do echo "line $i"; i=$((i+1)); done; ' +
      'j=0; while [ $j -lt 10000 ]; do echo "err $j" >&2; j=$((j+1)); done; echo the-end';
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", script],
      logBound: { maxSize: MAX_SIZE, maxFiles: MAX_FILES },
    });
    assertEquals((await boxes.wait(info.id)).exitCode, 0);

    let stdout = "";
    let stderr = "";
    const decoder = new TextDecoder();
    for await (const chunk of boxes.logs(info.id)) {
      if (chunk.stream === "stdout") stdout += decoder.decode(chunk.data);
      else stderr += decoder.decode(chunk.data);
    }
    const stateDir = join(home.home, "box", "boxes", info.id.slice(0, 12));
    for (const name of ["stdout.log", "stderr.log"]) {
      const bytes = await logStreamBytes(stateDir, name);
      assert(bytes <= MAX_SIZE * MAX_FILES, `${name}: ${bytes} bytes on disk`);
      assert(bytes > MAX_SIZE, `${name}: ${bytes} bytes, rotation kept too little`);
    }
    // The newest output is there, in order, and the oldest was rotated away.
    assert(stdout.endsWith("line 29999\nthe-end\n"), stdout.slice(-64));
    assert(!stdout.includes("line 0\n"));
    assert(stderr.endsWith("err 9999\n"), stderr.slice(-64));
    const lines = stdout.split("\n").filter((l) => l.startsWith("line "));
    const numbers = lines.slice(1).map((l) => Number(l.slice(5)));
    for (let k = 1; k < numbers.length; k++) assertEquals(numbers[k], numbers[k - 1] + 1);

    // Following a running box reads across the rotations as they happen: a writer the
    // follower keeps up with (batches of ~1 KB, the bound 8 KB) loses no line and repeats none.
    const throttled = 'i=0; while [ $i -lt 3000 ]; do echo "n $i"; ' +
      'if [ $((i % 5)) = 0 ]; then echo "e $i" >&2; fi; ' +
      "if [ $((i % 100)) = 99 ]; then sleep 0.05; fi; i=$((i+1)); done";
    const follow = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", throttled],
      logBound: { maxSize: 4096, maxFiles: 2 },
    });
    const followed = { stdout: "", stderr: "" };
    for await (const chunk of boxes.logs(follow.info.id, { follow: true })) {
      followed[chunk.stream] += decoder.decode(chunk.data, { stream: true });
    }
    const all = Array.from({ length: 3000 }, (_, i) => i);
    const numbered = (text: string, prefix: string) =>
      text.split("\n").filter(Boolean).map((line) => {
        assert(line.startsWith(prefix), line);
        return Number(line.slice(prefix.length));
      });
    assertEquals(numbered(followed.stdout, "n "), all);
    assertEquals(numbered(followed.stderr, "e "), all.filter((i) => i % 5 === 0));
    const rotated = await Deno.readTextFile(
      join(home.home, "box", "boxes", follow.info.id.slice(0, 12), "stdout.log.offset"),
    );
    assert(Number(rotated) > 4096, `stdout rotated to ${rotated.trim()} only`);
  });
});

Deno.test("box CLI: bad --log-opt values exit 2 with one line", async () => {
  const home = await makeTestHomeDir("a3sbl");
  const error = console.error;
  try {
    for (
      const [value, message] of [
        ["max-size=lots", "invalid --log-opt max-size"],
        ["max-file=0", "invalid --log-opt max-file"],
        ["colour=blue", "unknown --log-opt"],
      ]
    ) {
      const err: string[] = [];
      console.error = (...values: unknown[]) => err.push(values.join(" "));
      const code = await main(["run", "--home", home, "--log-opt", value, "busybox"]);
      console.error = error;
      assertEquals(code, 2, err.join("\n"));
      assertEquals(err.length, 1);
      assert(err[0].includes(message), err[0]);
    }
  } finally {
    console.error = error;
    removeTestHome(home);
  }
});
