import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { connectAgentSocket } from "./connect.ts";

Deno.test("agent connect: nothing listening is a box that is not running", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // No socket at all (the box's state was cleaned up).
    const missing = await assertRejects(
      () => connectAgentSocket(join(dir, "agent.sock"), "abc"),
      A3sError,
      "box abc is not running",
    );
    assertEquals([missing.code, missing.status], ["box_not_running", 409]);
    // A path with no listener behind it (as a socket left by an agent that died): refused.
    const stale = join(dir, "stale.sock");
    await Deno.writeTextFile(stale, "");
    const refused = await assertRejects(() => connectAgentSocket(stale, "abc"), A3sError);
    assertEquals(refused.code, "box_not_running");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent connect: any other failure says what it is, not that the box is down", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The socket's directory is a file: the host cannot reach the path (ENOTDIR).
    const file = join(dir, "state");
    await Deno.writeTextFile(file, "");
    const error = await assertRejects(
      () => connectAgentSocket(join(file, "agent.sock"), "abc"),
      A3sError,
    );
    assertEquals([error.code, error.status], ["agent_unavailable", 502]);
    assertEquals(error.message.includes("is not running"), false);
    assertEquals(error.message.startsWith(`cannot connect to box abc's agent at ${file}`), true);
    assertEquals(/not a directory/i.test(error.message), true, error.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent connect: a listening agent is connected", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "agent.sock");
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const accepted = listener.accept();
    const client = await connectAgentSocket(path, "abc");
    (await accepted).close();
    client.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent connect: a full listen backlog is waited out, not reported as a dead box", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "agent.sock");
  const listener = Deno.listen({ transport: "unix", path });
  const pending: Deno.Conn[] = [];
  try {
    // Fill the backlog: connects go through until the kernel answers EAGAIN.
    let full = false;
    for (let i = 0; i < 10_000 && !full; i++) {
      try {
        pending.push(await Deno.connect({ transport: "unix", path }));
      } catch (error) {
        assert(error instanceof Deno.errors.WouldBlock, String(error));
        full = true;
      }
    }
    assert(full, "the listen backlog never filled");
    const connecting = connectAgentSocket(path, "abc");
    // The agent gets a CPU again and drains its backlog a moment later.
    await new Promise((r) => setTimeout(r, 50));
    const drained = (async () => {
      for (let i = 0; i <= pending.length; i++) (await listener.accept()).close();
    })();
    const client = await connecting;
    client.close();
    await drained;
  } finally {
    for (const conn of pending) conn.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
