/**
 * An attached namespace box: the main command's output reaches the caller through pipes the
 * agent tees it to, while the logs get every byte. What the caller saw equals the logs, per
 * stream and in order, for small and large output, a caller that falls behind, and a caller that
 * goes away (the box keeps running and logging).
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import {
  busyboxSpec,
  execText,
  randomBoxId,
  TEST_AGENT_CACHE,
  withNamespaceBoxes,
} from "../_test_support.ts";
import type { BoxManager } from "../manager.ts";
import type { OutputChunk } from "../types.ts";
import { NamespaceDriver } from "./namespace.ts";

const decoder = new TextDecoder();

/** Everything an output stream yields, joined per stream. */
async function collect(
  output: AsyncIterable<OutputChunk>,
  beforeEach?: () => Promise<void>,
): Promise<{ stdout: string; stderr: string; chunks: number }> {
  const parts = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  let chunks = 0;
  for await (const chunk of output) {
    await beforeEach?.();
    parts[chunk.stream].push(chunk.data);
    chunks++;
  }
  return {
    stdout: decoder.decode(Buffer.concat(parts.stdout)),
    stderr: decoder.decode(Buffer.concat(parts.stderr)),
    chunks,
  };
}

/** The box's logs as `box logs` prints them, per stream. */
async function logsOf(boxes: BoxManager, id: string): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await collect(boxes.logs(id));
  return { stdout, stderr };
}

function lines(prefix: string, count: number): string {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}\n`).join("");
}

Deno.test("attached run: stdout and stderr come apart, in order, and equal the logs", async () => {
  await withNamespaceBoxes(async (boxes) => {
    const script = 'i=1; while [ $i -le 300 ]; do echo "out $i"; echo "err $i" >&2; ' +
      "i=$((i+1)); done; exit 3";
    const { info, output } = await boxes.run(
      { image: "busybox", command: ["sh", "-c", script] },
      { attach: true },
    );
    assert(output, "an attached run has an output stream");
    const seen = await collect(output);
    assertEquals(seen.stdout, lines("out", 300));
    assertEquals(seen.stderr, lines("err", 300));
    // The stream ends with the box: its end is already recorded.
    const done = await boxes.inspect(info.id);
    assertEquals([done.state, done.exitCode], ["exited", 3]);
    assertEquals(await logsOf(boxes, info.id), { stdout: seen.stdout, stderr: seen.stderr });
  });
});

Deno.test("attached run: the namespace driver hands over pipes, not the log (not for a tty)", async () => {
  await withNamespaceBoxes(async (_boxes, home) => {
    const driver = new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE });
    const { spec, paths } = await busyboxSpec(home, {
      id: randomBoxId(),
      stateDir: join(home.home, "driver-box"),
      command: ["sh", "-c", "echo first; echo second >&2; sleep 30"],
    });
    await driver.create(spec);
    try {
      const started = await driver.start(spec, { ...paths, attach: true });
      assert(started.output, "the namespace driver pipes an attached box's output");
      // The first bytes are the command's (the agent's ready byte is not among them).
      const seen: string[] = [];
      for await (const chunk of started.output) {
        seen.push(`${chunk.stream}:${decoder.decode(chunk.data)}`);
        if (seen.length === 2) break; // detaches; the box sleeps on
      }
      assertEquals(seen.sort(), ["stderr:second\n", "stdout:first\n"]);
      assert((await driver.state(spec)).running, "the box ended when its caller detached");
      assertEquals(Deno.readTextFileSync(paths.stdoutPath), "first\n");
      assertEquals(Deno.readTextFileSync(paths.stderrPath), "second\n");
      await driver.kill(spec, 9);
    } finally {
      await driver.remove(spec);
    }
    // A terminal box's output is one stream through the launcher's pump: it has no pipes.
    if (Deno.uid() !== 0) return;
    const tty = { ...spec, tty: true, command: ["echo", "on a terminal"] };
    await driver.create(tty);
    try {
      assertEquals((await driver.start(tty, { ...paths, attach: true })).output, undefined);
    } finally {
      await driver.remove(tty);
    }
  });
});

Deno.test("attached run: a caller a whole pipe behind loses the pipes, not the box's output", async () => {
  await withNamespaceBoxes(async (_boxes, home) => {
    const driver = new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE });
    // About 3.4 MB, more than the attach pipe holds.
    const { spec, paths } = await busyboxSpec(home, {
      id: "b".repeat(64),
      stateDir: join(home.home, "lagging-box"),
      command: ["seq", "1", "500000"],
    });
    await driver.create(spec);
    try {
      const started = await driver.start(spec, { ...paths, attach: true });
      // The caller reads nothing until the box is over.
      while ((await driver.state(spec)).running) await new Promise((r) => setTimeout(r, 20));
      const piped = await collect(started.output!);
      const logged = Deno.readTextFileSync(paths.stdoutPath);
      assertEquals(logged, Array.from({ length: 500000 }, (_, i) => `${i + 1}\n`).join(""));
      assert(
        piped.stdout.length > 0 && piped.stdout.length < logged.length,
        `${piped.stdout.length}`,
      );
      assert(logged.startsWith(piped.stdout), "the pipe carried a prefix of the log");
    } finally {
      await driver.remove(spec);
    }
  });
});

Deno.test("attached run: megabytes of output arrive whole, also when the caller falls behind", async () => {
  await withNamespaceBoxes(async (boxes) => {
    // About 1.9 MB on stdout, more than the attach pipe holds, and a marker on stderr at the end.
    const script = "seq 1 300000; echo end >&2";
    const expected = Array.from({ length: 300000 }, (_, i) => `${i + 1}\n`).join("");
    const fast = await boxes.run(
      { image: "busybox", command: ["sh", "-c", script] },
      { attach: true },
    );
    const quick = await collect(fast.output!);
    assertEquals(quick.stdout.length, expected.length);
    assertEquals(quick.stdout, expected);
    assertEquals(quick.stderr, "end\n");
    // A caller that stops reading for a while: the agent drops its pipes rather than wait for
    // it, and the rest comes from the logs, from the bytes it had.
    const slow = await boxes.run(
      { image: "busybox", command: ["sh", "-c", script] },
      { attach: true },
    );
    let first = true;
    const lagging = await collect(slow.output!, async () => {
      if (first) await new Promise((r) => setTimeout(r, 1500));
      first = false;
    });
    assertEquals(lagging.stdout, expected);
    assertEquals(lagging.stderr, "end\n");
    assertEquals(await logsOf(boxes, slow.info.id), { stdout: expected, stderr: "end\n" });
  });
});

Deno.test("attached run: a caller that goes away mid-output leaves the box running and logging", async () => {
  await withNamespaceBoxes(async (boxes) => {
    const script = 'i=1; while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done';
    const { info, output } = await boxes.run(
      { image: "busybox", command: ["sh", "-c", script] },
      { attach: true },
    );
    let seen = "";
    for await (const chunk of output!) {
      seen += decoder.decode(chunk.data);
      if (seen.includes("line 3\n")) break;
    }
    assert(seen.startsWith("line 1\n"), seen);
    assertEquals((await boxes.inspect(info.id)).state, "running");
    const done = await boxes.wait(info.id);
    assertEquals([done.exitCode, done.reason], [0, "exited"]);
    const logs = await logsOf(boxes, info.id);
    assertEquals(logs.stdout, lines("line", 100));
    assert(logs.stdout.startsWith(seen), "the caller saw a prefix of the logs");
  });
});

Deno.test("attached run: the ready byte rides on the first output, and never waits for it", async () => {
  await withNamespaceBoxes(async (boxes) => {
    // A command that says nothing: `run` still resolves (the agent sends the ready byte alone
    // once its short wait for output is over), and an exec sent at once is served.
    const silent = await boxes.run(
      { image: "busybox", command: ["sleep", "30"] },
      { attach: true },
    );
    assertEquals(silent.info.state, "running");
    assertEquals(await execText(boxes, silent.info.id, ["echo", "served"]), {
      stdout: "served",
      stderr: "",
      exitCode: 0,
    });
    await boxes.remove(silent.info.id, true);

    // The first output on stderr: the ready byte goes alone on stdout first, and neither stream
    // carries it.
    const stderrFirst = await boxes.run(
      { image: "busybox", command: ["sh", "-c", "echo first >&2; sleep 0.05; echo then"] },
      { attach: true },
    );
    const seen = await collect(stderrFirst.output!);
    assertEquals([seen.stdout, seen.stderr], ["then\n", "first\n"]);
    assertEquals(await logsOf(boxes, stderrFirst.info.id), { stdout: "then\n", stderr: "first\n" });

    // A silent command that ends at once: the ready byte (or the status) still comes, and the
    // exit code with it.
    const quiet = await boxes.run({ image: "busybox", command: ["sh", "-c", "exit 4"] }, {
      attach: true,
    });
    assertEquals((await collect(quiet.output!)).chunks, 0);
    const done = await boxes.inspect(quiet.info.id);
    assertEquals([done.state, done.exitCode], ["exited", 4]);
  });
});
