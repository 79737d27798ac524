/**
 * `a3s-agent keep-logs`, the VM drivers' way to the log keeper: the command keeps the pid it was
 * started with, its fds 1 and 2 land in rotated files no larger than the bound, and the files
 * read back through `log_files.ts` as a namespace box's do.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "../agent/build.ts";
import { TEST_AGENT_CACHE } from "../_test_support.ts";
import { awaitLogKeeper, logKeeperAlive, readLogSince } from "../log_files.ts";
import { keptLogsPrefix } from "./_vm_log_keeper.ts";

function readAll(path: string): string {
  const decoder = new TextDecoder();
  let text = "";
  for (const chunk of readLogSince(path, { value: 0 })) text += decoder.decode(chunk);
  return text;
}

/** Bytes of one stream's files in `dir`: FILE and its rotated FILE.N. */
function streamBytes(dir: string, name: string): number {
  const rotated = new RegExp(`^${name.replace(".", "\\.")}(\\.\\d+)?$`);
  let total = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (rotated.test(entry.name)) total += Deno.statSync(join(dir, entry.name)).size;
  }
  return total;
}

Deno.test("keep-logs: a command's output rotates at the bound and its pid stays its own", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-keep-logs" });
  try {
    const output = {
      stdoutPath: join(dir, "stdout.log"),
      stderrPath: join(dir, "stderr.log"),
      logBound: { maxSize: 4096, maxFiles: 3 },
    };
    const prefix = keptLogsPrefix(agent, output);
    const script = 'echo "pid $$"; i=0; while [ $i -lt 5000 ]; do echo "out $i"; ' +
      'echo "err $i" >&2; i=$((i+1)); done; echo last';
    const child = new Deno.Command(prefix[0], {
      args: [...prefix.slice(1), "/bin/sh", "-c", script],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    assertEquals((await child.status).code, 0);
    await awaitLogKeeper(output.stdoutPath);
    assert(!logKeeperAlive(output.stdoutPath), "the keeper outlived its only writer");

    for (const name of ["stdout.log", "stderr.log"]) {
      const bytes = streamBytes(dir, name);
      assert(bytes <= 4096 * 3 && bytes > 4096, `${name}: ${bytes} bytes on disk`);
    }
    const stdout = readAll(output.stdoutPath);
    assert(stdout.endsWith("out 4999\nlast\n"), stdout.slice(-32));
    assert(!stdout.includes(`pid ${child.pid}`), "the oldest output was kept");
    assert(readAll(output.stderrPath).endsWith("err 4999\n"));
    assert(Number(Deno.readTextFileSync(`${output.stdoutPath}.offset`)) > 0);

    // The pid: the shell execs in keep-logs' place, so a driver's pid record names it.
    const small = new Deno.Command(prefix[0], {
      args: [...prefix.slice(1), "/bin/sh", "-c", 'echo "pid $$"'],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await small.status;
    await awaitLogKeeper(output.stdoutPath);
    assert(readAll(output.stdoutPath).endsWith(`pid ${small.pid}\n`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keep-logs: an unbounded box gets no keeper", () => {
  assertEquals(keptLogsPrefix("/agent", { stdoutPath: "/o", stderrPath: "/e" }), []);
});
