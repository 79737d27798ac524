/**
 * The C guest agent and the host client, end to end over a real unix socket: the agent runs on
 * the host here (idle, no main command), so each protocol feature is tested without a sandbox
 * in the way.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "./build.ts";
import { AgentClient, AgentClosedError } from "./client.ts";

interface RunningAgent {
  socket: string;
  process: Deno.ChildProcess;
  connect(): Promise<AgentClient>;
  stop(): Promise<void>;
}

async function startAgent(): Promise<RunningAgent> {
  const binary = await buildAgent("/tmp/a3s-box-test-agent");
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3sag" });
  const socket = join(dir, "agent.sock");
  const process = new Deno.Command(binary, {
    args: ["--socket", socket],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 500; i++) {
    try {
      (await Deno.connect({ transport: "unix", path: socket })).close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    socket,
    process,
    connect: async () => new AgentClient(await Deno.connect({ transport: "unix", path: socket })),
    async stop() {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await process.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("agent: health, env and workdir, concurrent execs, large output", async () => {
  const agent = await startAgent();
  const client = await agent.connect();
  try {
    await client.health();
    const env = await client.run({
      command: ["sh", "-c", 'echo "$FOO"; pwd'],
      env: { FOO: "bar" },
      workdir: "/tmp",
    });
    assertEquals(text(env.stdout), "bar\n/tmp\n");

    const [a, b] = await Promise.all([
      client.run({ command: ["sh", "-c", "sleep 0.2; echo slow"] }),
      client.run({ command: ["sh", "-c", "echo fast; echo fast-err >&2; exit 2"] }),
    ]);
    assertEquals([text(a.stdout), a.exitCode], ["slow\n", 0]);
    assertEquals([text(b.stdout), text(b.stderr), b.exitCode], ["fast\n", "fast-err\n", 2]);

    const big = await client.run({ command: ["head", "-c", "3000000", "/dev/zero"] });
    assertEquals(big.stdout.length, 3_000_000);
    assert(big.stdout.every((byte) => byte === 0));

    const echoed = await client.run({ command: ["cat"] }, new Uint8Array(1_000_000).fill(7));
    assertEquals(echoed.stdout.length, 1_000_000);
  } finally {
    client.close();
    await agent.stop();
  }
});

Deno.test("agent: an exec ends with its process, not with what it left in the background", async () => {
  // A background process holds the exec's output pipes: the exec waited for it (120 s here).
  const agent = await startAgent();
  const client = await agent.connect();
  try {
    const started = performance.now();
    const run = await client.run({ command: ["sh", "-c", "sleep 120 & echo $!"] });
    assert(performance.now() - started < 5_000, `${performance.now() - started} ms`);
    assertEquals(run.exitCode, 0);
    // The agent runs on the host here: the sleeper is ended by hand.
    Deno.kill(Number(text(run.stdout)), "SIGKILL");
    // What a background process writes right after is still read, within the grace period.
    const late = await client.run({ command: ["sh", "-c", "(sleep 0.05; echo late) & echo now"] });
    assertEquals(text(late.stdout), "now\nlate\n");
  } finally {
    client.close();
    await agent.stop();
  }
});

Deno.test("agent: signals end an exec with 128+n, a tty merges output", async () => {
  const agent = await startAgent();
  const client = await agent.connect();
  try {
    const sleeper = await client.exec({ command: ["sleep", "100"] });
    await sleeper.kill(15);
    assertEquals(await sleeper.status, { exitCode: 143, signal: 15 });

    const tty = await client.run({
      command: ["sh", "-c", "test -t 1 && echo on-a-tty; echo err >&2"],
      tty: true,
    });
    assertEquals(text(tty.stdout).replaceAll("\r", ""), "on-a-tty\nerr\n");
    assertEquals(tty.stderr.length, 0);
  } finally {
    client.close();
    await agent.stop();
  }
});

Deno.test("agent: a dead agent or a broken link ends every call with an error", async () => {
  const agent = await startAgent();
  const client = await agent.connect();
  const running = await client.exec({ command: ["sleep", "100"] });
  agent.process.kill("SIGKILL");
  await assertRejects(() => running.status, AgentClosedError);
  await assertRejects(() => client.health(500), AgentClosedError);
  await assertRejects(() => client.exec({ command: ["true"] }), AgentClosedError);
  await agent.stop();
});

Deno.test("agent: a malformed frame closes only that connection", async () => {
  const agent = await startAgent();
  try {
    const raw = await Deno.connect({ transport: "unix", path: agent.socket });
    await raw.write(new Uint8Array([0x09, 0, 0, 0, 0, 1, 0, 0, 0, 0]));
    const reply = new Uint8Array(64);
    let total = 0;
    for (;;) {
      const n = await raw.read(reply.subarray(total));
      if (n === null) break;
      total += n;
    }
    raw.close();
    assertEquals(reply[0], 0x04, "an error frame, then the close");
    const client = await agent.connect();
    await client.health();
    client.close();
  } finally {
    await agent.stop();
  }
});
