import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import {
  bubblewrapAvailable,
  BubblewrapSandbox,
  type CommandResult,
  type CommandSandbox,
  createSandbox,
  ProcessSandbox,
} from "./sandbox.ts";
import { detectCgroupBase, hostCgroupBase, rlimitPrelude } from "./sandbox_limits.ts";

const noBwrap = !bubblewrapAvailable();
const root = Deno.uid() === 0;
const limitsHold = !noBwrap && (!root || hostCgroupBase() !== undefined);

function has(program: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function workspace(): Promise<string> {
  // Outside /tmp, as a user's project is: bubblewrap gives commands a /tmp of their own.
  return await Deno.realPath(await Deno.makeTempDir({ dir: "/var/tmp", prefix: "a3s-sbx-" }));
}

function run(sandbox: CommandSandbox, cwd: string, command: string): Promise<CommandResult> {
  return sandbox.run(command, { cwd, timeoutMs: 60_000 });
}

Deno.test({
  name:
    "sandbox (bwrap): commands get the base variables only, never the server's keys; passEnv and env add some",
  ignore: noBwrap,
  async fn() {
    const ws = await workspace();
    Deno.env.set("A3S_TEST_API_KEY", "sk-test-do-not-leak");
    Deno.env.set("A3S_TEST_PASSED", "passed-on");
    try {
      const plain = await run(new BubblewrapSandbox(ws), ws, "env");
      assertEquals(plain.exitCode, 0, plain.stderr);
      assert(!plain.stdout.includes("sk-test-do-not-leak"), plain.stdout);
      assert(!plain.stdout.includes("A3S_TEST_PASSED"), plain.stdout);
      const names = plain.stdout.trim().split("\n").map((line) => line.split("=")[0]);
      const allowed =
        /^(PATH|HOME|TMPDIR|LANG|LANGUAGE|LC_.*|TERM|TZ|USER|LOGNAME|COLORTERM|NO_COLOR|GIT_(AUTHOR|COMMITTER)_(NAME|EMAIL)|PWD|SHLVL|_|OLDPWD)$/;
      assertEquals(names.filter((name) => !allowed.test(name)), []);
      assert(plain.stdout.includes("HOME=/tmp/home\n"), plain.stdout);
      const passing = new BubblewrapSandbox(ws, false, undefined, {
        passEnv: ["A3S_TEST_PASSED"],
        env: { EXTRA: "1" },
      });
      const passed = await run(passing, ws, "echo $A3S_TEST_PASSED $EXTRA $A3S_TEST_API_KEY");
      assertEquals(passed.stdout.trim(), "passed-on 1");
      // A session's commands have their folder as their home, as before.
      const session = await run(new BubblewrapSandbox(ws, false, { hide: [] }), ws, "echo $HOME");
      assertEquals(session.stdout.trim(), ws);
    } finally {
      Deno.env.delete("A3S_TEST_API_KEY");
      Deno.env.delete("A3S_TEST_PASSED");
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test("sandbox (process): the server's keys stay out of plain processes too", async () => {
  const ws = await workspace();
  Deno.env.set("A3S_TEST_API_KEY", "sk-test-do-not-leak");
  try {
    const r = await run(new ProcessSandbox(), ws, "env; echo home=$HOME");
    assertEquals(r.exitCode, 0, r.stderr);
    assert(!r.stdout.includes("sk-test-do-not-leak"), r.stdout);
    assert(r.stdout.includes(`home=${Deno.env.get("HOME") ?? ""}\n`), r.stdout);
    const passing = createSandbox("process", ws, false, { passEnv: ["A3S_TEST_API_KEY"] });
    assertEquals(
      (await run(passing, ws, "echo $A3S_TEST_API_KEY")).stdout.trim(),
      "sk-test-do-not-leak",
    );
  } finally {
    Deno.env.delete("A3S_TEST_API_KEY");
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test({
  name:
    "sandbox (bwrap): system folders only: the host's home, data folder, /root, /run, /var and /etc's secrets are out of sight",
  ignore: noBwrap,
  async fn() {
    const ws = await workspace();
    const outside = await workspace();
    const home = join(ws, "fakehome");
    await Deno.mkdir(join(home, ".ssh"), { recursive: true });
    await Deno.writeTextFile(join(home, ".ssh", "id_ed25519"), "PRIVATE KEY 0xfeed\n");
    await Deno.writeTextFile(join(home, ".npmrc"), "//registry.npmjs.org/:_authToken=npm_secret\n");
    await Deno.writeTextFile(join(home, "notes.txt"), "visible notes\n");
    await Deno.writeTextFile(join(outside, "a3s.db"), "every chat's memories\n");
    const realHome = Deno.env.get("HOME");
    // A workspace above the home folder: what the home holds of credentials stays hidden.
    Deno.env.set("HOME", home);
    try {
      const sandbox = new BubblewrapSandbox(ws, false, undefined, { hide: [outside] });
      const r = await run(
        sandbox,
        ws,
        [
          `cat fakehome/.ssh/id_ed25519 fakehome/.npmrc fakehome/notes.txt 2>/dev/null`,
          `cat ${outside}/a3s.db 2>/dev/null`,
          "cat /etc/shadow /etc/gshadow 2>/dev/null",
          'for d in /root /home /run /var/run /var/log /srv /mnt /sys /work; do [ -n "$(ls -A $d 2>/dev/null)" ] && echo "non-empty $d"; done',
          `ls ${realHome ?? "/root"} 2>/dev/null | head -3`,
          "touch /usr/x 2>&1 | grep -c 'Read-only'",
          "echo written > out.txt",
        ].join("; "),
      );
      assertEquals(r.stdout.trim(), "visible notes\n1", r.stderr);
      assertEquals(await Deno.readTextFile(join(ws, "out.txt")), "written\n");
    } finally {
      if (realHome === undefined) Deno.env.delete("HOME");
      else Deno.env.set("HOME", realHome);
      await Deno.remove(ws, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "sandbox (bwrap): ordinary development commands still work",
  ignore: noBwrap,
  async fn() {
    const ws = await workspace();
    try {
      const sandbox = new BubblewrapSandbox(ws);
      const steps = [
        "ls -la . >/dev/null && echo ls",
        "printf 'a\\nb\\n' | grep b",
        "echo abc | sed s/b/X/",
        "printf 'all:\\n\\t@echo made\\n' > Makefile && make -s",
        "git init -q repo && cd repo && echo x > f && git add f && git -c user.name=t -c user.email=t@example.org commit -qm first && git log --oneline | wc -l | tr -d ' '",
        ...(has("python3") ? ["python3 -c 'print(6*7)'"] : []),
        ...(has("node") ? ["node -e 'console.log(\"node\")'"] : []),
        ...(has("deno") ? ["deno eval 'console.log(\"deno\")'"] : []),
      ];
      const expected = [
        "ls",
        "b",
        "aXc",
        "made",
        "1",
        ...(has("python3") ? ["42"] : []),
        ...(has("node") ? ["node"] : []),
        ...(has("deno") ? ["deno"] : []),
      ];
      for (const [i, step] of steps.entries()) {
        const r = await run(sandbox, ws, step);
        assertEquals([r.exitCode, r.stdout.trim()], [0, expected[i]], `${step}: ${r.stderr}`);
      }
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  },
});

/** A unix socket a host process listens on, in the first of `dirs` it can make one in. */
function hostSocket(dirs: string[]): { path: string; listener: Deno.Listener } | undefined {
  for (const dir of dirs) {
    const path = join(dir, `a3s-sbx-${crypto.randomUUID().slice(0, 8)}.sock`);
    try {
      return { path, listener: Deno.listen({ transport: "unix", path }) };
    } catch { /* not writable here */ }
  }
  return undefined;
}

Deno.test({
  name:
    "sandbox (bwrap): with the network off, a unix socket a host process listens on (in /run, /var/run or /tmp) cannot be reached",
  ignore: noBwrap || !has("python3"),
  async fn() {
    const ws = await workspace();
    const socket = hostSocket(["/run", "/var/run", "/var/tmp", "/tmp"])!;
    const accepted: string[] = [];
    const serving = (async () => {
      for await (const conn of socket.listener) {
        accepted.push("connection");
        conn.close();
      }
    })().catch(() => {});
    const connect = `python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('${socket.path}')
    print('connected')
except OSError as e:
    print('refused', type(e).__name__)
"`;
    try {
      // The host itself reaches it: the socket works.
      const direct = await run(new ProcessSandbox(), ws, connect);
      assertEquals(direct.stdout.trim(), "connected", direct.stderr);
      const before = accepted.length;
      for (const network of [false, true]) {
        const r = await run(
          new BubblewrapSandbox(ws, network),
          ws,
          `${connect}; test -e ${socket.path} && echo visible`,
        );
        assertEquals(r.stdout.trim(), "refused FileNotFoundError", r.stderr);
      }
      assertEquals(accepted.length, before);
    } finally {
      socket.listener.close();
      await serving;
      await Deno.remove(socket.path).catch(() => {});
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sandbox (bwrap): one command is held to its process limit (a fork bomb stops there) and told why",
  ignore: !limitsHold,
  async fn() {
    const ws = await workspace();
    try {
      const sandbox = new BubblewrapSandbox(ws, false, undefined, { limits: { pids: 40 } });
      const r = await run(
        sandbox,
        ws,
        // Bash gives up at a fork it cannot make: the bomb in a subshell, counted without a fork.
        "(for i in $(seq 200); do sleep 2 & done) 2>/dev/null; n=0; for p in /proc/[0-9]*; do n=$((n + 1)); done; echo $n",
      );
      const count = Number(r.stdout.trim().split("\n").at(-1));
      assert(count > 0 && count <= 40, `${count} processes: ${r.stdout} ${r.stderr}`);
      if (hostCgroupBase()) assert(r.stderr.includes("limit of 40 processes"), r.stderr);
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test({
  name: "sandbox (bwrap): one command is held to its memory limit where a cgroup is writable",
  ignore: noBwrap || !has("python3") || hostCgroupBase() === undefined,
  async fn() {
    const ws = await workspace();
    try {
      const sandbox = new BubblewrapSandbox(ws, false, undefined, { limits: { memoryMb: 64 } });
      const r = await run(
        sandbox,
        ws,
        'python3 -c \'x = bytearray(400 * 1024 * 1024); x[::4096] = b"x" * len(x[::4096]); print("allocated")\'',
      );
      assert(!r.stdout.includes("allocated"), r.stdout);
      assert(r.exitCode !== 0);
      assert(r.stderr.includes("memory limit of 64 MiB"), r.stderr);
      // The command's group is gone afterwards.
      const base = hostCgroupBase()!;
      const left = [...Deno.readDirSync(base.memory)].filter((e) =>
        e.name.startsWith("a3s-sandbox-") && !e.name.includes("probe")
      );
      assertEquals(left.length, 0);
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test("sandbox limits: resource limits set inside the sandbox, cgroups found under this process's own", async () => {
  assertEquals(
    rlimitPrelude({ pids: 64, memoryMb: 512 }, true, false),
    "ulimit -u 64 2>/dev/null; ",
  );
  assertEquals(
    rlimitPrelude({ pids: 64, memoryMb: 4096 }, false, true),
    `ulimit -d ${4096 * 1024} 2>/dev/null; `,
  );
  assertEquals(rlimitPrelude({}, true, true), "");
  // No cgroup hierarchy there: none is used.
  const empty = await Deno.makeTempDir({ prefix: "a3s-cg-" });
  try {
    assertEquals(detectCgroupBase(empty, "4:memory:/a\n8:pids:/\n0::/\n"), undefined);
    // A writable v1 layout (as a container's root has): groups go under its own cgroups.
    await Deno.mkdir(join(empty, "memory", "a"), { recursive: true });
    await Deno.mkdir(join(empty, "pids"), { recursive: true });
    assertEquals(detectCgroupBase(empty, "4:memory:/a\n8:pids:/\n0::/\n"), {
      mode: "v1",
      pids: join(empty, "pids"),
      memory: join(empty, "memory", "a"),
    });
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("agent config: box.pass_env names the host variables commands get; tools.max_parallel is kept", async () => {
  const ws = await workspace();
  Deno.env.set("A3S_TEST_PASSED", "passed-by-config");
  Deno.env.set("A3S_TEST_HIDDEN", "sk-not-named");
  const { Agent } = await import("../agent/agent.ts");
  const agent = await Agent.fromConfig({
    workspace: ws,
    default_model: "s/m",
    providers: [{ name: "s", base_url: "http://127.0.0.1:9/v1", models: [{ id: "m" }] }],
    box: { driver: "process", pass_env: ["A3S_TEST_PASSED"] },
    tools: { max_parallel: 3 },
  });
  try {
    const r = await run(agent.sandbox, ws, "echo $A3S_TEST_PASSED:$A3S_TEST_HIDDEN");
    assertEquals(r.stdout.trim(), "passed-by-config:");
    assertEquals(agent.maxParallelTools, 3);
  } finally {
    await agent.close();
    Deno.env.delete("A3S_TEST_PASSED");
    Deno.env.delete("A3S_TEST_HIDDEN");
    await Deno.remove(ws, { recursive: true });
  }
});
