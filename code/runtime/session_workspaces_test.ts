import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import { join } from "node:path";
import { bubblewrapAvailable, type CommandSandbox } from "./sandbox.ts";
import { SessionSandboxes } from "./session_sandboxes.ts";
import { sessionFolder, SessionWorkspaces } from "./session_workspaces.ts";
import { diskUsage } from "./disk_usage.ts";
import { MAX_SESSION_ENTRIES } from "./workspace_quota.ts";
import { PathEscapeError } from "./workspace.ts";

const DAY = 24 * 60 * 60 * 1000;

async function tempRoot(): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ prefix: "a3s-code-sessions-" }));
}

function run(sandbox: CommandSandbox, root: string, command: string) {
  return sandbox.run(command, { cwd: root, timeoutMs: 10_000 });
}

/** Makes `path` look unused since `daysAgo` days. */
async function age(path: string, daysAgo: number): Promise<void> {
  const then = new Date(Date.now() - daysAgo * DAY);
  await Deno.utime(path, then, then);
}

for (const driver of ["bwrap", "process"] as const) {
  Deno.test({
    name:
      `session sandboxes (${driver}): each session works in its own folder; under bubblewrap its commands see no other`,
    ignore: driver === "bwrap" && !bubblewrapAvailable(),
    async fn() {
      const root = await tempRoot();
      await Deno.writeTextFile(join(root, "agent.txt"), "the agent's own file\n");
      const sandboxes = new SessionSandboxes({
        driver,
        root,
        network: false,
        workspace: "session",
      });
      try {
        const alice = sandboxes.forSession("1:telegram:1");
        const bob = sandboxes.forSession("2:slack:2");
        assertEquals(alice.workspace.root, join(root, "sessions", sessionFolder("1:telegram:1")));
        assert(alice.workspace.root !== bob.workspace.root);
        const wrote = await run(alice.sandbox, alice.workspace.root, "echo alice > mine.txt; pwd");
        assertEquals(wrote.stdout.trim(), alice.workspace.root);
        assertEquals(
          await Deno.readTextFile(join(alice.workspace.root, "mine.txt")),
          "alice\n",
        );
        // The file tools cannot reach Alice's folder from Bob's.
        assertThrows(
          () => bob.workspace.resolve("../" + sessionFolder("1:telegram:1")),
          PathEscapeError,
        );
        if (driver === "bwrap") {
          // Nor can Bob's commands, though the host is mounted read-only: the workspace is hidden.
          const peek = await run(
            bob.sandbox,
            bob.workspace.root,
            `cat ${alice.workspace.root}/mine.txt; ls ${root}; cat ${root}/agent.txt; ls ..`,
          );
          assert(!peek.stdout.includes("alice"), peek.stdout);
          assert(!peek.stdout.includes("agent's own"), peek.stdout);
          assertEquals(peek.stdout.trim().split("\n"), ["sessions", sessionFolder("2:slack:2")]);
        }
        // Outside any session, the whole workspace.
        const agent = await sandboxes.run("ls", { cwd: root, timeoutMs: 10_000 });
        assertEquals(agent.stdout.trim().split("\n"), ["agent.txt", "sessions"]);
      } finally {
        await sandboxes.close();
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}

Deno.test("session sandboxes: a shared workspace is the agent's folder for every session", async () => {
  const root = await tempRoot();
  const sandboxes = new SessionSandboxes({
    driver: "process",
    root,
    network: false,
    workspace: "shared",
  });
  try {
    assertEquals(sandboxes.forSession("1:telegram:1").workspace.root, root);
    assertEquals(sandboxes.forSession("2:slack:2").quota, undefined);
  } finally {
    await sandboxes.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("session quota: over it, the agent is told, files cannot grow, and deleting gets it back", async () => {
  const root = await tempRoot();
  const sandboxes = new SessionSandboxes({
    driver: bubblewrapAvailable() ? "bwrap" : "process",
    root,
    network: false,
    workspace: "session",
    quotaBytes: 256 * 1024,
  });
  try {
    const { workspace, sandbox, quota } = sandboxes.forSession("1:telegram:1");
    assert(quota);
    assertEquals(await quota.measure(), undefined);
    const small = await run(sandbox, workspace.root, "head -c 1000 /dev/zero > small; echo ok");
    assertEquals([small.stdout.trim(), small.stderr], ["ok", ""]);
    // One file stops at the room left; several can still take the folder over its quota.
    const capped = await run(
      sandbox,
      workspace.root,
      "head -c 1048576 /dev/zero > one; echo rc=$?",
    );
    assert(/File too large/.test(capped.stderr), capped.stderr);
    assert((await Deno.stat(join(workspace.root, "one"))).size <= 256 * 1024);
    await run(sandbox, workspace.root, "rm one");
    const big = await run(
      sandbox,
      workspace.root,
      "for i in 1 2 3 4; do head -c 100000 /dev/urandom > big$i; done; echo wrote",
    );
    assertEquals(big.stdout.trim(), "wrote");
    assert(big.stderr.includes("quota"), big.stderr);
    assert((await quota.exceeded())?.includes("of its 0.3 MiB quota"), await quota.exceeded());
    // Over quota: writes fail, but the command runs, so the agent can delete.
    const grow = await run(sandbox, workspace.root, "echo more >> small; echo rc=$?");
    assert(grow.stdout.includes("rc=1"), grow.stdout);
    assert(/File too large/.test(grow.stderr), grow.stderr);
    assertEquals((await Deno.stat(join(workspace.root, "small"))).size, 1000);
    const freed = await run(sandbox, workspace.root, "rm big*; echo freed");
    assertEquals([freed.stdout.trim(), freed.stderr], ["freed", ""]);
    assertEquals(await quota.exceeded(), undefined);
    const again = await run(sandbox, workspace.root, "echo more >> small; echo rc=$?");
    assertEquals(again.stdout.trim(), "rc=0");
  } finally {
    await sandboxes.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("disk usage: symlinks are not followed, hard links count once, a walk stops at its limits", async () => {
  const root = await tempRoot();
  const outside = await tempRoot();
  try {
    await Deno.writeFile(join(outside, "huge"), new Uint8Array(2 * 1024 * 1024).fill(7));
    const ws = join(root, "ws");
    await Deno.mkdir(join(ws, "sub"), { recursive: true });
    await Deno.writeFile(join(ws, "sub", "a"), new Uint8Array(64 * 1024).fill(1));
    await Deno.link(join(ws, "sub", "a"), join(ws, "sub", "b"));
    await Deno.symlink(outside, join(ws, "out"));
    await Deno.symlink(join(outside, "huge"), join(ws, "huge"));
    await Deno.symlink("/", join(ws, "slash"));
    const usage = await diskUsage(ws, { bytes: 1024 ** 3, entries: 1000 });
    assert(usage.complete);
    assertEquals(usage.entries, 7);
    assert(usage.bytes >= 64 * 1024 && usage.bytes < 1024 * 1024, `${usage.bytes}`);
    const stopped = await diskUsage(ws, { bytes: 1024 ** 3, entries: 3 });
    assertEquals([stopped.complete, stopped.entries], [false, 4]);
    // A root that is a link counts as empty: it is not the folder it points at.
    assertEquals((await diskUsage(join(ws, "out"), { bytes: 1, entries: 1 })).entries, 0);
    assert(MAX_SESSION_ENTRIES >= 100_000);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("session sweep: folders unused past the time to live go; live ones, links and what they point at stay", async () => {
  const root = await tempRoot();
  const outside = await tempRoot();
  await Deno.writeTextFile(join(outside, "precious"), "keep me\n");
  // Opened by an earlier run of serve: old, not live.
  const sessions = join(root, "sessions");
  const old = join(sessions, sessionFolder("old:chat:1"));
  await Deno.mkdir(join(old, "deep"), { recursive: true });
  await Deno.writeTextFile(join(old, "deep", "note"), "bye\n");
  // A session that linked things outside into its folder before it went idle.
  await Deno.symlink(outside, join(old, "deep", "out"));
  await Deno.symlink(join(outside, "precious"), join(old, "precious"));
  await age(old, 30);
  const recent = join(sessions, sessionFolder("recent:chat:2"));
  await Deno.mkdir(recent);
  await age(recent, 1);
  // A link in `sessions` named like a session folder, to a folder outside: never followed.
  const planted = join(sessions, sessionFolder("planted:chat:3"));
  await Deno.symlink(outside, planted);
  // Not a session folder's name: not ours.
  await Deno.mkdir(join(sessions, "keep-me"));
  await age(join(sessions, "keep-me"), 30);

  const folders = new SessionWorkspaces({ root, workspace: "session", ttlMs: 7 * DAY });
  try {
    // The sweep at creation runs on its own; this one joins or follows it.
    await folders.sweep();
    await assertRejects(() => Deno.lstat(old), Deno.errors.NotFound);
    assert((await Deno.lstat(recent)).isDirectory);
    assert((await Deno.lstat(planted)).isSymlink);
    assert((await Deno.lstat(join(sessions, "keep-me"))).isDirectory);
    assertEquals(await Deno.readTextFile(join(outside, "precious")), "keep me\n");

    // A live session's folder stays however old it looks, until it is released.
    const live = folders.open("live:chat:4", () => ({
      driver: "test",
      run: () => Promise.resolve({ stdout: "", stderr: "", exitCode: 0, timedOut: false }),
    }));
    await age(live.workspace.root, 30);
    assertEquals(await folders.sweep(), []);
    assert(folders.isLive("live:chat:4"));
    folders.release("live:chat:4");
    // Released now: its last use is now.
    assertEquals(await folders.sweep(), []);
    await age(live.workspace.root, 30);
    assertEquals(await folders.sweep(), [sessionFolder("live:chat:4")]);
  } finally {
    await folders.close();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("session folders: a sessions folder or session folder that is a symlink is refused, and never swept", async () => {
  const root = await tempRoot();
  const outside = await tempRoot();
  const sandbox = () => ({
    driver: "test",
    run: () => Promise.resolve({ stdout: "", stderr: "", exitCode: 0, timedOut: false }),
  });
  try {
    await Deno.mkdir(join(outside, sessionFolder("a:b:c")));
    await Deno.symlink(outside, join(root, "sessions"));
    await age(join(outside, sessionFolder("a:b:c")), 30);
    const folders = new SessionWorkspaces({ root, workspace: "session", ttlMs: DAY });
    try {
      assertThrows(() => folders.open("a:b:c", sandbox), Error, "not a folder");
      assertEquals(await folders.sweep(), []);
      assert((await Deno.stat(join(outside, sessionFolder("a:b:c")))).isDirectory);
      await Deno.remove(join(root, "sessions"));
      await Deno.mkdir(join(root, "sessions"));
      await Deno.symlink(outside, join(root, "sessions", sessionFolder("x:y:z")));
      assertThrows(() => folders.open("x:y:z", sandbox), Error, "not a folder");
    } finally {
      await folders.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test({
  name:
    "session sandboxes (bwrap): a session's commands see neither the server's data folder (every chat's memories) nor its environment",
  ignore: !bubblewrapAvailable(),
  async fn() {
    const root = await tempRoot();
    // Outside /tmp, which bubblewrap replaces anyway: where the store usually is (~/.a3s).
    const home = await Deno.realPath(
      await Deno.makeTempDir({ dir: "/var/tmp", prefix: "a3s-home-" }),
    );
    await Deno.writeTextFile(join(home, "a3s.db"), "alice's locker code is 4711\n");
    Deno.env.set("A3S_TEST_SESSION_SECRET", "sk-server-key");
    const sandboxes = new SessionSandboxes({
      driver: "bwrap",
      root,
      network: false,
      workspace: "session",
      hide: [home],
    });
    try {
      const bob = sandboxes.forSession("2:slack:2");
      const peek = await run(
        bob.sandbox,
        bob.workspace.root,
        `cat ${home}/a3s.db; env; echo $HOME`,
      );
      assert(!peek.stdout.includes("4711"), peek.stdout);
      assert(!peek.stdout.includes("sk-server-key"), peek.stdout);
      assert(peek.stdout.includes("PATH="), peek.stdout);
      assertEquals(peek.stdout.trim().split("\n").at(-1), bob.workspace.root);
      // The agent's own commands get no more of the server's environment than a session's: a
      // variable reaches them only when named in `passEnv`.
      const agent = await sandboxes.run("echo $A3S_TEST_SESSION_SECRET", {
        cwd: root,
        timeoutMs: 10_000,
      });
      assertEquals(agent.stdout.trim(), "");
    } finally {
      Deno.env.delete("A3S_TEST_SESSION_SECRET");
      await sandboxes.close();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("session sweep: a session opening while the sweep looks at its idle folder keeps a folder to work in", async () => {
  const root = await tempRoot();
  const folders = new SessionWorkspaces({ root, workspace: "session", ttlMs: DAY });
  const sandbox = () => ({
    driver: "test",
    run: () => Promise.resolve({ stdout: "", stderr: "", exitCode: 0, timedOut: false }),
  });
  const key = "1:telegram:1";
  const path = join(root, "sessions", sessionFolder(key));
  try {
    // Each round opens the session a little later into the sweep, so one lands between the
    // sweep's last look at whether the folder is live and its removal.
    for (let turns = 0; turns < 40; turns++) {
      await Deno.mkdir(path, { recursive: true });
      await age(path, 30);
      const sweeping = folders.sweep();
      for (let i = 0; i < turns; i++) await Deno.lstat(root);
      const { workspace } = folders.open(key, sandbox);
      await sweeping;
      assert(
        (await Deno.lstat(workspace.root).catch(() => undefined))?.isDirectory,
        `round ${turns}`,
      );
      folders.release(key);
    }
  } finally {
    await folders.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("session sandboxes: a session's commands get the variables the agent names in pass_env, and no others", async () => {
  const root = await tempRoot();
  Deno.env.set("A3S_TEST_NAMED", "named-by-the-agent");
  Deno.env.set("A3S_TEST_UNNAMED", "sk-not-named");
  const sandboxes = new SessionSandboxes({
    driver: bubblewrapAvailable() ? "bwrap" : "process",
    root,
    network: false,
    workspace: "session",
    passEnv: ["A3S_TEST_NAMED"],
  });
  try {
    const chat = sandboxes.forSession("1:telegram:1");
    const seen = await run(
      chat.sandbox,
      chat.workspace.root,
      "echo $A3S_TEST_NAMED:$A3S_TEST_UNNAMED",
    );
    assertEquals(seen.stdout.trim(), "named-by-the-agent:");
  } finally {
    Deno.env.delete("A3S_TEST_NAMED");
    Deno.env.delete("A3S_TEST_UNNAMED");
    await sandboxes.close();
    await Deno.remove(root, { recursive: true });
  }
});
