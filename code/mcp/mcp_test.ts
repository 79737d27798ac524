import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Agent } from "../agent/agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { fixtureServer } from "../_testing/mcp_fixture.ts";

const FIXTURE = fileURLToPath(new URL("../_testing/mcp_fixture.ts", import.meta.url));
const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));

Deno.test("mcp client: stdio and streamable HTTP servers become mcp__<server>__<tool> tools, never shadowing built-ins", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-mcp-" });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => crypto.randomUUID(),
  });
  const httpServer = fixtureServer();
  await httpServer.connect(transport);
  const web = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (req) => transport.handleRequest(req),
  );
  const llm = new ScriptedProvider([
    {
      toolCalls: [{ name: "mcp__local__add", arguments: { a: 2, b: 40 } }, {
        name: "mcp__remote__read_resource",
        arguments: { uri: "fixture://readme" },
      }, { name: "mcp__local__fail", arguments: {} }],
    },
    { text: "done" },
  ]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    mcp: [
      { name: "local", command: Deno.execPath(), args: ["run", "-A", "--no-check", FIXTURE] },
      { name: "remote", transport: "http", url: `http://127.0.0.1:${web.addr.port}/mcp` },
    ],
  }, { providers: { s: llm } });
  try {
    assertEquals(agent.mcpServers, ["local", "remote"]);
    const names = [...agent.tools.keys()].filter((n) => n.startsWith("mcp__"));
    assertEquals(names.sort(), [
      "mcp__local__add",
      "mcp__local__fail",
      "mcp__local__list_resources",
      "mcp__local__read",
      "mcp__local__read_resource",
      "mcp__remote__add",
      "mcp__remote__fail",
      "mcp__remote__list_resources",
      "mcp__remote__read",
      "mcp__remote__read_resource",
    ]);
    assertEquals(agent.tools.get("read")!.effect, "read"); // the built-in is untouched
    const session = agent.session();
    await session.send("use mcp");
    const results = llm.requests[1].messages.filter((m) => m.role === "tool").map((m) => m.content);
    assertEquals(results, ["42", "fixture readme text", "Error: it broke"]);
  } finally {
    await agent.close();
    // The server transport holds the client's SSE stream open; closing it lets shutdown finish.
    await transport.close();
    await web.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcp server: `code mcp` serves the agent's tools over stdio, confined and permission-checked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-mcpd-" });
  await Deno.writeTextFile(
    `${dir}/agent.hcl`,
    `workspace = "ws"\npermissions {\n  deny = ["bash(curl *)"]\n}\n`,
  );
  await Deno.mkdir(`${dir}/ws`);
  await Deno.writeTextFile(`${dir}/ws/hello.txt`, "hello from the workspace\n");
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: ["run", "-A", MOD, "code", "mcp", `${dir}/agent.hcl`],
      stderr: "pipe",
    }),
  );
  try {
    const tools = (await client.listTools()).tools as { name: string }[];
    assert(tools.some((t) => t.name === "read") && tools.some((t) => t.name === "bash"));
    const text = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      return [(r.content as { text: string }[])[0].text, r.isError ?? false];
    };
    assertEquals(await text("read", { path: "hello.txt" }), ["1\thello from the workspace", false]);
    const escape = await text("read", { path: "../agent.hcl" });
    assert(escape[1] && String(escape[0]).includes("outside the workspace"));
    const denied = await text("bash", { command: "curl http://example.org" });
    assertEquals(denied, [
      "Error: permission denied for bash(curl http://example.org) by rule bash(curl *)",
      true,
    ]);
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
