/**
 * Box sandboxes per session: each session its own box (started on its first command) and
 * workspace folder, at most `max_boxes` at once (least recently used removed first), removed
 * when the session closes, every box under the agent's limits. On a fake of box's runtime, so it
 * runs anywhere; the same through real boxes is in channel_responder_test.ts.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import type { BoxManager } from "@a3s/box";
import { Agent } from "../agent/agent.ts";
import { validateConfig } from "../config/load.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { BoxAgentSandboxes, boxLimits, warnWithoutBoxDriver } from "../box_agents.ts";
import {
  type BoxRuntimeLike,
  BoxSandbox,
  DEFAULT_BOX_LIMITS,
  REAP_COMMAND,
  SessionBoxes,
  type SessionBoxesOptions,
  sessionFolder,
} from "./box_sandbox.ts";

type RunSpec = Parameters<BoxRuntimeLike["run"]>[0];

/** box's runtime, faked: boxes are ids, exec answers at once (or when `hold` lets it go). */
class FakeBoxes implements BoxRuntimeLike {
  readonly runs: RunSpec[] = [];
  readonly execs: { box: string; command: string }[] = [];
  readonly removed: string[] = [];
  /** Boxes whose leftover processes were killed, once per time their last command ended. */
  readonly reaps: string[] = [];
  /** Commands containing this wait until `release()`. */
  hold = "";
  #waiting: (() => void)[] = [];
  images = { resolve: () => Promise.resolve({}) };

  run(options: RunSpec) {
    this.runs.push(options);
    return Promise.resolve({ info: { id: `box${this.runs.length}` } });
  }

  exec(box: string, request: { command: string[] }) {
    const command = request.command.at(-1)!;
    if (command === REAP_COMMAND) this.reaps.push(box);
    else this.execs.push({ box, command });
    const held = this.hold && command.includes(this.hold);
    const status = held
      ? new Promise<{ exitCode: number; signal: number }>((resolve) =>
        this.#waiting.push(() => resolve({ exitCode: 0, signal: 0 }))
      )
      : Promise.resolve({ exitCode: 0, signal: 0 });
    const text = (s: string) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          if (s) c.enqueue(new TextEncoder().encode(s));
          c.close();
        },
      });
    return Promise.resolve({
      stdin: new WritableStream<Uint8Array>(),
      stdout: text(`${box}\n`),
      stderr: text(""),
      status,
      kill: () => Promise.resolve(),
    });
  }

  remove(box: string) {
    this.removed.push(box);
    return Promise.resolve(box);
  }

  release() {
    for (const w of this.#waiting.splice(0)) w();
  }
}

const OPTS = { cwd: "/", timeoutMs: 5_000 };

/** Session boxes on `fake` over `root`: the default limits, four boxes, a folder per session. */
function sessionBoxes(
  fake: FakeBoxes,
  root: string,
  options: Partial<SessionBoxesOptions> = {},
): SessionBoxes {
  return new SessionBoxes(fake, {
    image: "img",
    root,
    network: false,
    limits: DEFAULT_BOX_LIMITS,
    maxBoxes: 4,
    workspace: "session",
    ...options,
  });
}

async function tempDir(): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ prefix: "a3s-code-session-boxes-" }));
}

Deno.test("session boxes: each session gets its own box and workspace folder, started on its first command", async () => {
  const root = await tempDir();
  const fake = new FakeBoxes();
  const boxes = sessionBoxes(fake, root);
  try {
    const a = boxes.forSession("1:telegram:1");
    const b = boxes.forSession("2:telegram:2");
    // Nothing starts until a command runs.
    assertEquals(fake.runs.length, 0);
    assert(a.workspace.root !== b.workspace.root);
    assertEquals(a.workspace.root, `${root}/sessions/${sessionFolder("1:telegram:1")}`);
    assert((await Deno.stat(a.workspace.root)).isDirectory);
    assertEquals((await a.sandbox.run("echo a", OPTS)).stdout, "box1\n");
    assertEquals((await b.sandbox.run("echo b", OPTS)).stdout, "box2\n");
    assertEquals((await a.sandbox.run("echo again", OPTS)).stdout, "box1\n");
    assertEquals(fake.runs.length, 2);
    // Each box mounts only its session's folder, and runs under the limits.
    assertEquals(fake.runs.map((r) => r.volumes?.map((v) => v.host)), [
      [a.workspace.root],
      [b.workspace.root],
    ]);
    assertEquals(fake.runs[0].limits, { pids: 256, memoryBytes: 512 * 1024 * 1024, cpus: 1 });
    assertEquals(fake.runs[0].network, "none");
    // Keys are made into folder names that cannot leave sessions/ or collide.
    const dots = sessionFolder("../..");
    assert(!dots.includes("/") && !dots.startsWith("."), dots);
    assert(sessionFolder("a/b") !== sessionFolder("a_b"));
    // Closing a session removes its box; its files stay.
    await boxes.releaseSession("1:telegram:1");
    assertEquals(fake.removed, ["box1"]);
    assertEquals(boxes.liveSessions, ["2:telegram:2"]);
    assert((await Deno.stat(a.workspace.root)).isDirectory);
    // Its next command starts a fresh box.
    assertEquals((await a.sandbox.run("echo back", OPTS)).stdout, "box3\n");
  } finally {
    await boxes.close();
    await Deno.remove(root, { recursive: true });
  }
  assertEquals(fake.removed.sort(), ["box1", "box2", "box3"]);
});

Deno.test("session boxes: at most max_boxes run; one more removes the least recently used, an idle one first", async () => {
  const root = await tempDir();
  const fake = new FakeBoxes();
  const boxes = sessionBoxes(fake, root, { limits: {}, maxBoxes: 2 });
  try {
    const s = (k: string) => boxes.forSession(k).sandbox;
    await s("a").run("true", OPTS); // box1
    await s("b").run("true", OPTS); // box2
    await s("a").run("true", OPTS); // a is now the most recently used
    await s("c").run("true", OPTS); // box3: b goes
    assertEquals(fake.removed, ["box2"]);
    assertEquals(boxes.liveSessions, ["a", "c"]);
    // A busy box is spared while an idle one can go: a (least recent) is busy, c idle.
    fake.hold = "long";
    const busy = s("a").run("long job", OPTS);
    await new Promise((r) => setTimeout(r, 10));
    await s("c").run("true", OPTS);
    await s("d").run("true", OPTS); // box4: c goes, a keeps running
    assertEquals(fake.removed, ["box2", "box3"]);
    assertEquals(boxes.liveSessions.sort(), ["a", "d"]);
    fake.release();
    await busy;
    // A flood of sessions never holds more than the cap.
    for (let i = 0; i < 10; i++) await s(`flood${i}`).run("true", OPTS);
    assertEquals(boxes.liveSessions.length, 2);
    assertEquals(fake.runs.length - fake.removed.length, 2);
  } finally {
    await boxes.close();
    await Deno.remove(root, { recursive: true });
  }
  assertEquals(fake.runs.length, fake.removed.length);
});

Deno.test("session boxes: a shared workspace mounts the agent's folder in every session's box", async () => {
  const root = await tempDir();
  const fake = new FakeBoxes();
  const boxes = sessionBoxes(fake, root, { limits: {}, workspace: "shared" });
  try {
    await boxes.forSession("a").sandbox.run("true", OPTS);
    await boxes.forSession("b").sandbox.run("true", OPTS);
    // Still a box each (own /tmp and processes), on one folder.
    assertEquals(fake.runs.map((r) => r.volumes?.[0].host), [root, root]);
    assertEquals(new Set(fake.execs.map((e) => e.box)).size, 2);
  } finally {
    await boxes.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("box limits: the config's box block sets them (validated), and they reach the box spec", async () => {
  assertEquals(boxLimits(validateConfig({})), {
    pids: 256,
    memoryBytes: 512 * 1024 * 1024,
    cpus: 1,
  });
  for (
    const bad of [{ pids: 0 }, { memory_mb: -1 }, { cpus: 0 }, { max_boxes: 0 }, { pids: 1.5 }]
  ) {
    assertThrows(() => validateConfig({ box: bad }), Error, "box.");
  }
  assertThrows(() => validateConfig({ box: { workspace: "everyone" } }), Error, "box.workspace");

  const dir = await tempDir();
  const fake = new FakeBoxes();
  const sandboxes = new BoxAgentSandboxes(fake as unknown as BoxManager);
  try {
    const config = validateConfig({
      workspace: "ws",
      box: { driver: "box", image: "img:1", pids: 64, memory_mb: 128, cpus: 0.5, max_boxes: 3 },
    });
    const sandbox = (await sandboxes.forAgent(config, dir))!;
    await sandbox.forSession("k").sandbox.run("true", OPTS);
    assertEquals(fake.runs[0].limits, { pids: 64, memoryBytes: 128 * 1024 * 1024, cpus: 0.5 });
    assertEquals(fake.runs[0].image, "img:1");
    assertEquals(fake.runs[0].volumes![0].host, `${dir}/ws/sessions/${sessionFolder("k")}`);
    // The CLI's single box gets the same limits.
    const single = new BoxSandbox(fake, "img:1", dir, false, boxLimits(config));
    await single.run("true", OPTS);
    assertEquals(fake.runs[1].limits, fake.runs[0].limits);
    await single.close();
  } finally {
    await sandboxes.close();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(fake.removed.length, 2);
});

Deno.test("session boxes: an agent's sessions work in their own box and folder, closed with the session", async () => {
  const dir = await tempDir();
  const fake = new FakeBoxes();
  const boxes = sessionBoxes(fake, dir);
  const llm = new ScriptedProvider([
    (req) =>
      req.messages.at(-1)!.role === "tool" ? { text: "done" } : {
        toolCalls: [
          { name: "write", arguments: { path: "mine.txt", content: "mine\n" } },
          { name: "bash", arguments: { command: "echo ok" } },
        ],
      },
  ]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    sandbox: boxes,
    providers: { s: llm },
  });
  try {
    const a = agent.session();
    const b = agent.session();
    await a.send("go");
    await b.send("go");
    const rootA = `${dir}/sessions/${sessionFolder(a.id)}`;
    const rootB = `${dir}/sessions/${sessionFolder(b.id)}`;
    // File tools and commands both work in the session's own folder and box.
    assertEquals(await Deno.readTextFile(`${rootA}/mine.txt`), "mine\n");
    assertEquals(await Deno.readTextFile(`${rootB}/mine.txt`), "mine\n");
    assertEquals(fake.runs.map((r) => r.volumes![0].host), [rootA, rootB]);
    assertEquals(fake.execs.map((e) => e.box), ["box1", "box2"]);
    assert(llm.requests[0].messages[0].content.includes(`Workspace: ${rootA}.`));
    await a.close();
    assertEquals(fake.removed, ["box1"]);
    assertEquals(boxes.liveSessions, [b.id]);
  } finally {
    await agent.close();
    await boxes.close();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(fake.removed.sort(), ["box1", "box2"]);
});

Deno.test("box sandbox: what a command leaves running is killed once no command of the box runs", async () => {
  const fake = new FakeBoxes();
  const box = new BoxSandbox(fake, "img", "/", false);
  try {
    await box.run("sleep 1000 &", OPTS);
    assertEquals(fake.reaps, ["box1"]);
    // Two at once: the box is cleaned after the last of them ends, not under the other.
    fake.hold = "long";
    const long = box.run("long job", OPTS);
    await new Promise((r) => setTimeout(r, 10));
    await box.run("short", OPTS);
    assertEquals(fake.reaps, ["box1"]);
    fake.release();
    await long;
    assertEquals(fake.reaps, ["box1", "box1"]);
  } finally {
    await box.close();
  }
});

Deno.test("session boxes: the config's quota and time to live hold a box session's folder", async () => {
  const config = validateConfig({});
  assertEquals(
    [
      config.box.session_quota_mb,
      config.box.session_ttl_hours,
      config.box.session_idle_minutes,
      config.memory.chats,
    ],
    [1024, 168, 30, "session"],
  );
  assertThrows(() => validateConfig({ box: { session_quota_mb: -1 } }), Error, "box.");
  assertThrows(() => validateConfig({ box: { session_idle_minutes: -1 } }), Error, "box.");
  const dir = await tempDir();
  const fake = new FakeBoxes();
  const sandboxes = new BoxAgentSandboxes(fake as unknown as BoxManager);
  try {
    // An earlier run's folder, unused for 30 days: gone once the agent is built.
    const stale = `${dir}/ws/sessions/${sessionFolder("old")}`;
    await Deno.mkdir(stale, { recursive: true });
    const longAgo = new Date(Date.now() - 30 * 24 * 3600 * 1000);
    await Deno.utime(stale, longAgo, longAgo);
    const sandbox = (await sandboxes.forAgent(
      validateConfig({ workspace: "ws", box: { driver: "box", session_quota_mb: 1 } }),
      dir,
    ))! as SessionBoxes;
    await sandbox.sweep(); // Joins the sweep at creation, or finds nothing left.
    await assertRejects(() => Deno.lstat(stale), Deno.errors.NotFound);
    const { workspace, sandbox: box, quota } = sandbox.forSession("k");
    await Deno.writeFile(`${workspace.root}/big`, new Uint8Array(2 * 1024 * 1024).fill(1));
    const over = await box.run("true", OPTS);
    assert(over.stderr.includes("of its 1 MiB quota"), over.stderr);
    assert(await quota?.exceeded());
    // Over quota, the box's next command runs unable to grow files.
    await box.run("echo next", OPTS);
    assert(fake.execs.at(-1)!.command.startsWith("ulimit -f 0"), fake.execs.at(-1)!.command);
  } finally {
    await sandboxes.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session boxes: an image that cannot be made fails each command, not the agent, and is tried again", async () => {
  const dir = await tempDir();
  const fake = new FakeBoxes();
  let ready = false;
  let prepared = 0;
  const boxes = sessionBoxes(fake, dir, {
    prepare: () => {
      prepared++;
      return ready
        ? Promise.resolve()
        : Promise.reject(new Error("/usr/bin/busybox not found; install busybox-static"));
    },
  });
  try {
    const a = boxes.forSession("1:webchat:1");
    await assertRejects(() => a.sandbox.run("echo a", OPTS), Error, "install busybox-static");
    assertEquals(fake.runs.length, 0);
    // Installed meanwhile: the next command starts the box, with no restart.
    ready = true;
    // Two commands at once start one box between them.
    const [first, second] = await Promise.all([
      a.sandbox.run("echo a", OPTS),
      a.sandbox.run("echo b", OPTS),
    ]);
    assertEquals([first.stdout, second.stdout], ["box1\n", "box1\n"]);
    assertEquals(fake.runs.length, 1);
    // A live box needs no preparing.
    const before = prepared;
    await a.sandbox.run("echo c", OPTS);
    assertEquals(prepared, before);
  } finally {
    await boxes.close();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(fake.removed, ["box1"]);
});

Deno.test("agent boxes: with no built-in image to be made, the agent is built and its commands say why", async () => {
  const dir = await tempDir();
  const fake = new FakeBoxes();
  const failing = Object.assign(fake, {
    images: {
      resolve: () => Promise.reject(new Error("no image busybox:latest")),
      createImage: () => Promise.reject(new Error("/usr/bin/busybox not found; install busybox")),
    },
  });
  const sandboxes = new BoxAgentSandboxes(failing as unknown as BoxManager);
  try {
    const config = validateConfig({
      workspace: dir,
      default_model: "s/m",
      box: { driver: "box", image: "busybox:latest" },
    });
    // Before, building the agent threw, and every chat message failed with no answer.
    const sandbox = await sandboxes.forAgent(config, dir);
    assert(sandbox);
    const session = sandbox.forSession!("1:webchat:1");
    await assertRejects(() => session.sandbox.run("echo hi", OPTS), Error, "busybox");
    assertEquals(fake.runs.length, 0);
  } finally {
    await sandboxes.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent boxes: serve warns at start when no box driver works, naming each reason", async () => {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger = {
    warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }),
  };
  const probe = (available: boolean) => ({
    name: "namespace",
    available,
    isolation: "namespace" as const,
    strength: 10,
    detail: available ? "bubblewrap" : "bwrap not found (install bubblewrap)",
    features: {},
  });
  await warnWithoutBoxDriver({ info: () => Promise.resolve([probe(true)]) }, logger);
  assertEquals(warnings, []);
  await warnWithoutBoxDriver({ info: () => Promise.resolve([probe(false)]) }, logger);
  assertEquals(warnings.length, 1);
  assertEquals(warnings[0].fields, {
    drivers: { namespace: "bwrap not found (install bubblewrap)" },
  });
});
