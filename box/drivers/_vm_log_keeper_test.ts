/**
 * `a3s-agent keep-logs`, the VM drivers' way to the log keeper: the command keeps the pid it was
 * started with, the guest's stdout and stderr (its fds 3 and 4) and its own messages (fds 1 and
 * 2) land in three logs of their own, each rotated at the bound, and the files read back through
 * `log_files.ts` as a namespace box's do.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "../agent/build.ts";
import { TEST_AGENT_CACHE } from "../_test_support.ts";
import { awaitLogKeeper, logKeeperAlive, readLogSince } from "../log_files.ts";
import { keptLogsPrefix, UNBOUNDED, VM_FDS, vmLogPath } from "./_vm_log_keeper.ts";

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

/** Runs `script` under keep-logs with `dir`'s logs; its exit code and pid. */
async function keepLogs(
  agent: string,
  dir: string,
  script: string,
  logBound = { maxSize: 4096, maxFiles: 3 },
): Promise<{ code: number; pid: number }> {
  const output = {
    stdoutPath: join(dir, "stdout.log"),
    stderrPath: join(dir, "stderr.log"),
    logBound,
  };
  const prefix = keptLogsPrefix(agent, output, dir);
  const child = new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), "/bin/sh", "-c", script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const { code } = await child.status;
  await awaitLogKeeper(output.stdoutPath);
  return { code, pid: child.pid };
}

Deno.test("keep-logs: stdout, stderr and the VM's messages rotate apart; the pid stays", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-keep-logs" });
  try {
    const { stdout, stderr } = VM_FDS;
    const script = `echo "pid $$" >&${stdout}; i=0; while [ $i -lt 5000 ]; do ` +
      `echo "out $i" >&${stdout}; echo "err $i" >&${stderr}; echo "vm $i"; echo "qemu $i" >&2; ` +
      `i=$((i+1)); done; echo last >&${stdout}`;
    const ran = await keepLogs(agent, dir, script);
    assertEquals(ran.code, 0);
    assert(!logKeeperAlive(join(dir, "stdout.log")), "the keeper outlived its only writer");

    for (const name of ["stdout.log", "stderr.log", "vm.log"]) {
      const bytes = streamBytes(dir, name);
      assert(bytes <= 4096 * 3 && bytes > 4096, `${name}: ${bytes} bytes on disk`);
    }
    const out = readAll(join(dir, "stdout.log"));
    assert(out.endsWith("out 4999\nlast\n"), out.slice(-32));
    assert(!out.includes(`pid ${ran.pid}`), "the oldest output was kept");
    const err = readAll(join(dir, "stderr.log"));
    assert(err.endsWith("err 4998\nerr 4999\n"), err.slice(-32));
    const vm = readAll(vmLogPath(dir));
    assert(vm.endsWith("vm 4999\nqemu 4999\n"), vm.slice(-32));
    // Nothing of one stream in another's log.
    assert(!/out|vm|qemu/.test(err) && !/err|vm|qemu/.test(out) && !/out|err/.test(vm));
    assert(Number(Deno.readTextFileSync(join(dir, "stdout.log.offset"))) > 0);

    // The pid: the shell execs in keep-logs' place, so a driver's pid record names it.
    const small = await keepLogs(agent, dir, `echo "pid $$" >&${stdout}`);
    assert(readAll(join(dir, "stdout.log")).endsWith(`pid ${small.pid}\n`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keep-logs: a box that asks for no bound keeps every byte in one file", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-keep-logs" });
  try {
    const script = `i=0; while [ $i -lt 2000 ]; do echo "out $i" >&${VM_FDS.stdout}; ` +
      `i=$((i+1)); done`;
    assertEquals((await keepLogs(agent, dir, script, UNBOUNDED)).code, 0);
    let expected = "";
    for (let i = 0; i < 2000; i++) expected += `out ${i}\n`;
    assertEquals(Deno.readTextFileSync(join(dir, "stdout.log")), expected);
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assertEquals(names, ["stderr.log", "stdout.log", "vm.log"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keep-logs: bad fds and a missing bound are usage errors", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  for (
    const args of [
      ["--log-max", "1024", "1", "--log", "0", "/tmp/x", "--", "true"],
      ["--log-max", "1024", "1", "--log", "1,x", "/tmp/x", "--", "true"],
      ["--log-max", "1024", "1", "--log", "16", "/tmp/x", "--", "true"],
      ["--log", "1", "/tmp/x", "--", "true"],
    ]
  ) {
    const out = await new Deno.Command(agent, { args: ["keep-logs", ...args], stderr: "piped" })
      .output();
    assertEquals(out.code, 2, args.join(" "));
  }
});
