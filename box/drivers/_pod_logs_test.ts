/**
 * A pod VM's member logs on the host (agent/pod_log_keeper.c, `_pod_logs.ts`), without a VM: a
 * shell stands in for QEMU and writes the records the guest agent sends (agent.h) to the pod log
 * fd, a few bytes at a time, so records arrive split anywhere. Each member's stdout and stderr
 * reach its own logs, in order and rotated at its bound; a member without a grant writes
 * nothing; a member's pid file goes with its end record; a malformed record stops the rest.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "../agent/build.ts";
import { TEST_AGENT_CACHE } from "../_test_support.ts";
import { awaitLogKeeper, logKeeperAlive, readLogSince } from "../log_files.ts";
import { grantMemberLogs, podLogGrants } from "./_pod_logs.ts";
import { keptLogsPrefix, VM_FDS } from "./_vm_log_keeper.ts";

const encoder = new TextEncoder();

/** One record as the guest agent sends it: kind, stream, id length, data length (BE), id, data. */
function podRecord(kind: "d" | "e", stream: 1 | 2, id: string, data = ""): Uint8Array {
  const idBytes = encoder.encode(id);
  const bytes = encoder.encode(data);
  const head = new Uint8Array(7);
  head[0] = kind.charCodeAt(0);
  head[1] = stream;
  head[2] = idBytes.length;
  new DataView(head.buffer).setUint32(3, bytes.length);
  const record = new Uint8Array(7 + idBytes.length + bytes.length);
  record.set(head);
  record.set(idBytes, 7);
  record.set(bytes, 7 + idBytes.length);
  return record;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

function readAll(path: string): string {
  let text = "";
  for (const chunk of readLogSince(path, { value: 0 })) text += new TextDecoder().decode(chunk);
  return text;
}

const A = "a".repeat(64);
const B = "b".repeat(12);
const UNGRANTED = "c".repeat(64);

/** A member's logs in `dir/<name>` as the manager names them, with the given bound. */
async function memberOutput(dir: string, name: string, maxSize: number) {
  await Deno.mkdir(join(dir, name));
  return {
    stdoutPath: join(dir, name, "stdout.log"),
    stderrPath: join(dir, name, "stderr.log"),
    logBound: { maxSize, maxFiles: 2 },
  };
}

function keeperFile(sandbox: string): string {
  try {
    return Deno.readTextFileSync(join(podLogGrants(sandbox), "keeper"));
  } catch {
    return "";
  }
}

/**
 * Starts a keeper with a pod log input; the command waits for `go` before it writes `records`
 * three bytes a time to the pod log fd, then waits for `done`.
 */
async function podKeeper(agent: string, dir: string, records: Uint8Array) {
  const sandbox = join(dir, "sandbox");
  await Deno.mkdir(podLogGrants(sandbox), { recursive: true });
  await Deno.writeFile(join(dir, "records"), records);
  const output = { stdoutPath: join(sandbox, "stdout.log"), stderrPath: join(sandbox, "err.log") };
  const prefix = keptLogsPrefix(agent, output, sandbox, podLogGrants(sandbox));
  const script = `while [ ! -e go ]; do sleep 0.01; done; ` +
    `dd if=records bs=3 2>/dev/null >&${VM_FDS.podLogs}; while [ ! -e done ]; do sleep 0.01; done`;
  const child = new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), "/bin/sh", "-c", script],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // The keeper names itself in the grants dir before the command runs.
  const named = () => /^\d+\n$/.test(keeperFile(sandbox));
  for (let i = 0; i < 500 && !named(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    sandbox,
    go: () => Deno.writeTextFile(join(dir, "go"), ""),
    async finish() {
      await Deno.writeTextFile(join(dir, "done"), "");
      assertEquals((await child.status).code, 0);
      await awaitLogKeeper(output.stdoutPath);
    },
  };
}

Deno.test("pod logs: each granted member's streams reach its own bounded logs, in order", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-pod-logs" });
  try {
    const records: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      records.push(podRecord("d", 1, A, `a out ${i}\n`));
      if (i % 4 === 0) records.push(podRecord("d", 2, A, `a err ${i}\n`));
      records.push(podRecord("d", 1, B, `b ${i}\n`));
      records.push(podRecord("d", 1, UNGRANTED, `stray ${i}\n`));
    }
    records.push(podRecord("e", 1, A));
    const keeper = await podKeeper(agent, dir, concat(records));
    const a = await memberOutput(dir, "a", 1024);
    const b = await memberOutput(dir, "b", 1024 * 1024);
    await grantMemberLogs(keeper.sandbox, A, a);
    await grantMemberLogs(keeper.sandbox, B, b);
    // Granted while the keeper runs: a reader of either waits for the keeper.
    assert(logKeeperAlive(a.stdoutPath) && logKeeperAlive(b.stdoutPath));
    await keeper.go();
    // A's end record: its readers stop waiting while the keeper (and B) go on.
    for (let i = 0; i < 500 && logKeeperAlive(a.stdoutPath); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert(!logKeeperAlive(a.stdoutPath), "A's end record left its pid file");
    assert(logKeeperAlive(b.stdoutPath), "B's pid file went before the VM ended");
    await keeper.finish();
    assert(!logKeeperAlive(b.stdoutPath), "B's pid file outlived the keeper");
    assert(!logKeeperAlive(join(keeper.sandbox, "stdout.log")));
    assertEquals(keeperFile(keeper.sandbox), "", "the grants dir still names the keeper");

    // A: the newest of each stream, in order, within 1 KiB × 2 files each.
    const aOut = readAll(a.stdoutPath);
    assert(aOut.endsWith("a out 398\na out 399\n"), aOut.slice(-40));
    assert(!aOut.includes("a out 0\n"), "A's oldest output was kept past its bound");
    // The first line kept may be cut where a rotation dropped the file before it.
    const outLines = aOut.split("\n").filter(Boolean).slice(1).map((line) => Number(line.slice(6)));
    for (let k = 1; k < outLines.length; k++) assertEquals(outLines[k], outLines[k - 1] + 1);
    let aErr = "";
    for (let i = 0; i < 400; i += 4) aErr += `a err ${i}\n`;
    assertEquals(readAll(a.stderrPath), aErr);
    let bytes = 0;
    for (const name of [a.stdoutPath, `${a.stdoutPath}.1`, `${a.stdoutPath}.2`]) {
      bytes += (await Deno.stat(name).catch(() => ({ size: 0 }))).size;
    }
    assert(bytes <= 2048 && bytes > 1024, `A's stdout: ${bytes} bytes`);
    // B: every line, nothing of A's or the stray member's.
    let expected = "";
    for (let i = 0; i < 400; i++) expected += `b ${i}\n`;
    assertEquals(readAll(b.stdoutPath), expected);
    // The member without a grant wrote nowhere: no file but the ones each side made.
    const names = (path: string) => [...Deno.readDirSync(path)].map((e) => e.name).sort();
    assertEquals(names(dir), ["a", "b", "done", "go", "records", "sandbox"]);
    assertEquals(names(podLogGrants(keeper.sandbox)), [A, B]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pod logs: a malformed record stops the member records after it", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const dir = await Deno.makeTempDir({ prefix: "a3s-pod-logs" });
  try {
    const bad = podRecord("d", 1, A, "x");
    bad[1] = 7; // no such stream
    const keeper = await podKeeper(
      agent,
      dir,
      concat([podRecord("d", 1, A, "before\n"), bad, podRecord("d", 1, A, "after\n")]),
    );
    const a = await memberOutput(dir, "a", 1024);
    await grantMemberLogs(keeper.sandbox, A, a);
    await keeper.go();
    await keeper.finish();
    assertEquals(readAll(a.stdoutPath), "before\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
