/**
 * A reader racing the log keeper's rotations (agent/log_keeper.c, log_files.ts): every chunk a
 * reader gets is the stream's bytes at the count it names, whether it reads from the start or
 * follows, however often the files rotate under it; and a box's dir removed while its keeper
 * still writes goes whole.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "./agent/build.ts";
import { TEST_AGENT_CACHE } from "./_test_support.ts";
import { readLogSince, removeStateDir } from "./log_files.ts";

const LINES = 40_000;

/** `keep-logs` running `script` with its output in `dir`'s stdout.log, 1 KiB × 3 files. */
function keepLogs(agent: string, dir: string, script: string): Deno.ChildProcess {
  // 1 KiB files: a rotation every few lines, so readers open the files mid-rotation often.
  const args = ["keep-logs", "--stdout", join(dir, "stdout.log"), "--log-max", "1024", "3"];
  return new Deno.Command(agent, {
    args: [...args, "--", "sh", "-c", script],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("log keeper: readers racing rotations get no byte twice, none out of order", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-log-race" });
  try {
    const path = join(dir, "stdout.log");
    let expected = "";
    for (let i = 0; i < LINES; i++) expected += `${i}\n`;
    const writer = keepLogs(
      agent,
      dir,
      `i=0; while [ $i -lt ${LINES} ]; do echo $i; i=$((i+1)); done`,
    );
    let ended = false;
    const status = writer.status.finally(() => ended = true);
    const decoder = new TextDecoder();
    const wrong: string[] = [];
    const read = (offset: { value: number }) => {
      for (const chunk of readLogSince(path, offset)) {
        const at = offset.value - chunk.length;
        if (decoder.decode(chunk) !== expected.slice(at, offset.value)) wrong.push(`at ${at}`);
      }
    };
    const follower = { value: 0 };
    let reads = 0;
    while (!ended) {
      read({ value: 0 });
      read(follower);
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assertEquals((await status).code, 0);
    assert(reads > 10, `only ${reads} reads raced the writer`);
    assertEquals(wrong, []);
  } finally {
    await removeStateDir(dir);
  }
});

Deno.test("log keeper: a state dir removed as its writer ends goes whole", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  for (let round = 0; round < 3; round++) {
    const dir = await Deno.makeTempDir({ prefix: "a3s-log-remove" });
    // Ended, the writer leaves a full pipe for the keeper to write and rotate after it.
    const burst = "head -c 200000 /dev/zero | tr '\\0' x";
    assertEquals((await keepLogs(agent, dir, burst).status).code, 0);
    await removeStateDir(dir);
    assert(!(await Deno.stat(dir).then(() => true, () => false)), `${dir} left behind`);
  }
});
