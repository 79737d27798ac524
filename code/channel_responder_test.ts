import { assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { AgentPool } from "./routes.ts";
import { ProcessSandbox } from "./runtime/sandbox.ts";
import {
  agentChannelResponder,
  agentModelIsLocal,
  LOCAL_ONLY_REFUSAL,
} from "./channel_responder.ts";

Deno.test("channel responder: a local-only chat is refused by an agent on a remote model", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-channel-responder-" });
  await Deno.writeTextFile(
    join(home, "remote.hcl"),
    `name = "remote"
default_model = "cloud/big"
workspace = "ws"
providers {
  name = "cloud"
  base_url = "https://api.example.com/v1"
  api_key = "k"
  models {
    id = "big"
  }
}
box {
  driver = "process"
}
`,
  );
  const pool = new AgentPool(
    {
      agents: { remote: join(home, "remote.hcl") },
      default_agent: "default",
      default_workspace: "ws",
    },
    { home, powerUrl: "http://127.0.0.1:9/v1" },
  );
  try {
    assertEquals(agentModelIsLocal(await pool.agent("remote")), false);
    // The built-in default agent talks to this server's power over loopback.
    assertEquals(agentModelIsLocal(await pool.agent("default")), true);
    const respond = agentChannelResponder(pool, "remote");
    // Refused before any session is opened or any request leaves the machine.
    assertEquals(
      await respond({ session: "1:telegram:1", text: "my IBAN is ...", localOnly: true }),
      LOCAL_ONLY_REFUSAL,
    );
    assertEquals(pool.sessions.size, 0);
  } finally {
    await pool.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("channel responder: with box's runtime wired, the built-in agent asks for a box", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-channel-default-" });
  const asked: string[] = [];
  const pool = new AgentPool(
    { agents: {}, default_agent: "default", default_workspace: "ws" },
    {
      home,
      powerUrl: "http://127.0.0.1:9/v1",
      sandboxFor: (config) => {
        asked.push(`${config.name}:${config.box.driver}:${config.box.image}`);
        return Promise.resolve(new ProcessSandbox());
      },
    },
  );
  try {
    const agent = await pool.agent("default");
    assertEquals(asked, ["default:box:busybox:latest"]);
    assertEquals(agent.sandbox.driver, "process");
  } finally {
    await pool.close();
    await Deno.remove(home, { recursive: true });
  }
});
