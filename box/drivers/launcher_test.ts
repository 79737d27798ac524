/**
 * The launcher handed its arguments on stdin, and the namespace driver keeping one launcher
 * spawned ahead of the next start (`launcherAhead`): the next box runs in exactly that process,
 * an interactive box's input follows the arguments on the same pipe, and `close` ends it.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { addBusybox, TEST_AGENT_CACHE, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "./namespace.ts";
import { buildAgent } from "../agent/build.ts";
import { launcherFrame } from "./_launcher.ts";

/** This process's children waiting as launchers for their arguments. */
function waitingLaunchers(): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (parent === Deno.pid && argv[1] === "launch" && argv[2] === "--args-from-stdin") {
        pids.push(Number(entry.name));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Waits (bounded) for `check` to hold. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("launcher: stdin ending before any arguments exits 0; a bad frame exits 2", async () => {
  const agent = await buildAgent(TEST_AGENT_CACHE);
  const spawn = () =>
    new Deno.Command(agent, {
      args: ["launch", "--args-from-stdin"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  const unused = spawn();
  await unused.stdin.close();
  const [status, stderr] = await Promise.all([unused.status, new Response(unused.stderr).text()]);
  assertEquals([status.code, stderr], [0, ""]);

  const bad = spawn();
  const writer = bad.stdin.getWriter();
  // A frame whose last argument does not end in NUL.
  await writer.write(new Uint8Array([0, 0, 0, 3, 0x2d, 0x2d, 0x78]));
  await writer.close();
  const [badStatus, badStderr] = await Promise.all([bad.status, new Response(bad.stderr).text()]);
  assertEquals(badStatus.code, 2);
  assert(badStderr.includes("bad argument frame"), badStderr);
});

Deno.test("launcher frame: a big-endian length, then each argument ending in NUL", () => {
  assertEquals(
    [...launcherFrame(["--ready", "é"])],
    [0, 0, 0, 11, ...new TextEncoder().encode("--ready\0é\0")],
  );
});

Deno.test("launcherAhead: the next box starts in the launcher spawned ahead; close ends it", async () => {
  const home = await testHome();
  const driver = new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE, launcherAhead: true });
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [driver],
  });
  try {
    await addBusybox(home.images);
    assertEquals(waitingLaunchers(), []);
    const first = await boxes.run({ image: "busybox", command: ["echo", "first"] });
    // Once a box has started, the next one's launcher waits.
    const [ahead] = waitingLaunchers();
    assert(ahead !== undefined, "no launcher spawned ahead");
    const second = await boxes.run({ image: "busybox", command: ["sleep", "30"] });
    const record = JSON.parse(
      await Deno.readTextFile(
        join(home.home, "box/boxes", second.info.id.slice(0, 12), "pid.json"),
      ),
    ) as { pid: number };
    assertEquals(record.pid, ahead);
    // ...and another waits for the box after it.
    await eventually(() => waitingLaunchers().some((pid) => pid !== ahead), "the next launcher");

    // An interactive box: its input follows the arguments on the launcher's stdin.
    const echo = await boxes.run({ image: "busybox", command: ["cat"], interactive: true });
    const writer = echo.stdin!.getWriter();
    await writer.write(new TextEncoder().encode("through the launcher\n"));
    await writer.close();
    assertEquals((await boxes.wait(echo.info.id)).exitCode, 0);
    let logged = "";
    for await (const chunk of boxes.logs(echo.info.id)) {
      logged += new TextDecoder().decode(chunk.data);
    }
    assertEquals(logged, "through the launcher\n");
    assertEquals((await boxes.wait(first.info.id)).exitCode, 0);
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);

    await driver.close();
    assertEquals(waitingLaunchers(), []);
  } finally {
    boxes.close();
    await home.close();
  }
});
