/**
 * The MCP server: exposes an agent's tools to other MCP clients, each call confined to the
 * workspace and permission-checked, hooked and audited exactly as in a session.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Agent } from "../agent/agent.ts";

/**
 * Builds an MCP server over `agent`'s tools (one session carries the audit).
 *
 * @example
 * ```ts ignore
 * const server = createMcpServer(agent);
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function createMcpServer(agent: Agent): Server {
  const session = agent.session({ ephemeral: true });
  const server = new Server({ name: `a3s-code-${agent.name}`, version: "0.1.0" }, {
    capabilities: { tools: {} },
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: session.toolSpecs.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.parameters as { type: "object" },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (
    request: { params: { name: string; arguments?: Record<string, unknown> } },
    extra: { signal: AbortSignal },
  ) => {
    const result = await session.callTool(
      request.params.name,
      request.params.arguments ?? {},
      extra.signal,
    );
    return { content: [{ type: "text", text: result.content }], isError: result.isError };
  });
  return server;
}

/** Serves `agent` over stdio until the client disconnects. */
export async function serveMcpStdio(
  agent: Agent,
  transport: Transport = new StdioServerTransport(),
): Promise<void> {
  const server = createMcpServer(agent);
  const closed = new Promise<void>((resolve) => (server.onclose = resolve));
  await server.connect(transport);
  await closed;
}
