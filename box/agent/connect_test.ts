import { assertEquals, assertRejects } from "@a3s/common/testing";
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
