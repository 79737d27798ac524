/**
 * The MCP client: connects the agent's configured servers over stdio or streamable HTTP and
 * turns their tools and resources into agent tools named `mcp__<server>__<name>`.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { A3sError } from "@a3s/common/errors";
import type { McpServerConfig } from "../config/schema.ts";
import type { Tool } from "../tools/tool.ts";
import { ToolError } from "../tools/tool.ts";

/** One connected server. */
export interface McpConnection {
  /** The server's name from the config. */
  name: string;
  /** The MCP SDK client, for requests beyond tools (prompts, raw calls). */
  client: Client;
  /** The server's tools and resources as agent tools, named `mcp__<server>__<name>`. */
  tools: Tool[];
  /** Closes the connection (and ends a stdio server's process). */
  close(): Promise<void>;
}

/** How long a server may take to start and answer `initialize`. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Reads `stream` to its end, keeping the last 4 KiB of text for error messages. */
function drainTail(stream: unknown): { text(): string } | undefined {
  const readable = stream as AsyncIterable<Uint8Array | string> | null | undefined;
  if (!readable || typeof readable[Symbol.asyncIterator] !== "function") return undefined;
  let tail = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of readable) {
      tail = (tail + (typeof chunk === "string" ? chunk : decoder.decode(chunk))).slice(-4096);
    }
  })().catch(() => {});
  return { text: () => tail };
}

function toolName(server: string, name: string): string {
  return `mcp__${server}__${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

interface ContentPart {
  type: string;
  text?: string;
  resource?: { uri?: string; text?: string };
  mimeType?: string;
}

function renderContent(parts: ContentPart[] | undefined): string {
  return (parts ?? []).map((p) => {
    if (p.type === "text") return p.text ?? "";
    if (p.type === "resource") return p.resource?.text ?? `[resource ${p.resource?.uri ?? ""}]`;
    return `[${p.type}${p.mimeType ? ` ${p.mimeType}` : ""} content]`;
  }).join("\n");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

function mcpTool(
  client: Client,
  server: string,
  name: string,
  description: string,
  parameters: Record<string, unknown>,
  call: (client: Client, input: Record<string, unknown>, signal: AbortSignal) => Promise<string>,
): Tool {
  return {
    name: toolName(server, name),
    description: `[${server}] ${description}`.slice(0, 1024),
    effect: "exec",
    parameters,
    validate(raw) {
      // The server validates against its own schema; we check the shape the protocol needs.
      return isObject(raw)
        ? { ok: true, input: raw }
        : { ok: false, error: "arguments must be a JSON object" };
    },
    subject: () => undefined,
    run: (input, ctx) => call(client, input, ctx.signal),
  };
}

/**
 * Connects one server and lists what it offers.
 *
 * @example
 * ```ts ignore
 * const conn = await connectMcpServer({ name: "files", transport: "stdio", command: "deno",
 *   args: ["run", "-A", "server.ts"], env: {}, headers: {}, enabled: true });
 * console.log(conn.tools.map((t) => t.name));
 * await conn.close();
 * ```
 */
export async function connectMcpServer(
  config: McpServerConfig,
  cwd?: string,
): Promise<McpConnection> {
  const client = new Client({ name: "a3s-code", version: "0.1.0" });
  const transport = config.transport === "http"
    ? new StreamableHTTPClientTransport(new URL(config.url!), {
      requestInit: { headers: config.headers },
    })
    : new StdioClientTransport({
      command: config.command!,
      args: config.args,
      env: { ...Deno.env.toObject(), ...config.env },
      cwd,
      stderr: "pipe",
    });
  // A stdio server's stderr is read as it comes: an unread pipe fills and blocks the server.
  const stderrTail = transport instanceof StdioClientTransport
    ? drainTail(transport.stderr)
    : undefined;
  try {
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    await transport.close().catch(() => {});
    const said = stderrTail?.text().trim();
    throw new A3sError(
      "mcp_unavailable",
      `mcp server ${config.name}: cannot connect: ${(error as Error).message}${
        said ? ` (stderr: ${said.slice(-500).replace(/\s+/g, " ")})` : ""
      }`,
      { status: 502, field: `mcp.${config.name}` },
    );
  }
  const tools: Tool[] = [];
  const caps = client.getServerCapabilities() ?? {};
  if (caps.tools) {
    const listed = await client.listTools();
    for (const t of listed.tools) {
      tools.push(
        mcpTool(
          client,
          config.name,
          t.name,
          t.description ?? t.name,
          t.inputSchema as Record<string, unknown>,
          async (c, input, signal) => {
            const result = await c.callTool({ name: t.name, arguments: input }, undefined, {
              signal,
            });
            const text = renderContent(result.content as ContentPart[]);
            if (result.isError) throw new ToolError(text || `${t.name} failed`);
            return text || JSON.stringify(result.structuredContent ?? {});
          },
        ),
      );
    }
  }
  if (caps.resources) {
    tools.push(
      mcpTool(
        client,
        config.name,
        "list_resources",
        "List the resources this server offers (uri, name, description).",
        { type: "object", properties: {} },
        async (c, _i, signal) => {
          const listed = await c.listResources(undefined, { signal });
          return (listed.resources as { uri: string; name: string; description?: string }[]).map((
            r,
          ) => `${r.uri}  ${r.name}${r.description ? ` — ${r.description}` : ""}`).join("\n") ||
            "no resources";
        },
      ),
    );
    tools.push(mcpTool(client, config.name, "read_resource", "Read one resource by uri.", {
      type: "object",
      properties: { uri: { type: "string" } },
      required: ["uri"],
    }, async (c, input, signal) => {
      if (typeof input.uri !== "string") throw new ToolError("uri must be a string");
      const read = await c.readResource({ uri: input.uri }, { signal });
      return (read.contents as { text?: unknown; mimeType?: string }[]).map((
        x,
      ) => (typeof x.text === "string" ? x.text : `[binary ${x.mimeType ?? ""}]`)).join("\n");
    }));
  }
  return { name: config.name, client, tools, close: () => client.close() };
}
