/**
 * The `a3s code` commands themselves: run an agent in the terminal (one task, a planned task, or
 * an interactive session with approvals asked on the terminal), serve its tools over MCP, and
 * inspect configs and stored sessions. `cli.ts` loads this module once a command is given, so that
 * `--help` does not load the agent framework.
 */
import { loadConfig, openStore, type Store, UsageError } from "@a3s/common";
import { Agent } from "./agent/agent.ts";
import type { AgentEvent, TurnResult } from "./agent/events.ts";
import { runPlan } from "./agent/planner.ts";
import type { ApprovalRequest } from "./policy/permissions.ts";
import { serveMcpStdio } from "./mcp/server.ts";
import { loadAgentConfig } from "./config/load.ts";
import { StoreHistory } from "./state/history.ts";
import { moduleIntegrations } from "./integrations.ts";
import { StoreAuditLog } from "./state/audit.ts";

/** Reads stdin a line at a time, shared by prompts and approvals. */
class LineReader {
  #buffer = "";
  #reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  #done = false;

  async line(): Promise<string | undefined> {
    while (true) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        return line.replace(/\r$/, "");
      }
      if (this.#done) {
        if (!this.#buffer) return undefined;
        const rest = this.#buffer;
        this.#buffer = "";
        return rest;
      }
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }
}

const encoder = new TextEncoder();
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text));

function brief(input: Record<string, unknown>): string {
  const first = Object.values(input)[0];
  const text = typeof first === "string" ? first : JSON.stringify(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Renders events for a person: text on stdout, progress on stderr. */
function renderEvent(e: AgentEvent, indent = ""): void {
  switch (e.type) {
    case "text":
      if (!indent) out(e.delta);
      break;
    case "tool_start":
      err(`\n${indent}● ${e.tool}(${brief(e.input)})\n`);
      break;
    case "tool_end": {
      const lines = e.output.split("\n");
      err(
        `${indent}  ⎿ ${e.isError ? "✗ " : ""}${lines[0].slice(0, 120)}${
          lines.length > 1 ? ` (+${lines.length - 1} lines)` : ""
        }\n`,
      );
      break;
    }
    case "todos":
      err(
        `${indent}todos:\n${
          e.todos.map((t) =>
            `${indent}  [${
              t.status === "completed" ? "x" : t.status === "in_progress" ? "~" : " "
            }] ${t.content}`
          ).join("\n")
        }\n`,
      );
      break;
    case "plan":
      err(
        `plan (revision ${e.revision}) for: ${e.goal}\n${
          e.steps.map((s) =>
            `  ${s.id}: ${s.description}${
              s.dependsOn.length ? ` (after ${s.dependsOn.join(", ")})` : ""
            }`
          ).join("\n")
        }\n`,
      );
      break;
    case "plan_step":
      err(
        `[wave ${e.wave}] ${e.step.id} ${e.step.status}${
          e.step.attempts > 1 ? ` (attempt ${e.step.attempts})` : ""
        }${e.step.status === "failed" ? `: ${e.step.result}` : ""}\n`,
      );
      break;
    case "subagent":
      if (e.event.type !== "text" && e.event.type !== "usage") {
        renderEvent(e.event, `${indent}  [${e.agent}] `);
      }
      break;
    case "approval_result":
      if (e.timedOut) err(`${indent}  (no answer: ${e.allowed ? "allowed" : "denied"})\n`);
      break;
    case "guard":
      if (e.injection) err(`${indent}  ⚠ safeclaw: prompt-injection text in a ${e.source}\n`);
      else if (e.redacted) {
        err(`${indent}  safeclaw: redacted ${e.redacted} tainted value(s) from the output\n`);
      }
      break;
    case "compaction":
      err(`${indent}(context compacted: ${e.tokensBefore} → ${e.tokensAfter} tokens)\n`);
      break;
    case "error":
      err(`${indent}error: ${e.message}\n`);
      break;
  }
}

function summarize(result: TurnResult): void {
  err(
    `\n— ${result.stopReason}; ${result.steps} model call(s), ${result.toolCalls} tool call(s), ${result.usage.inputTokens}+${result.usage.outputTokens} tokens${
      result.error ? `; ${result.error}` : ""
    }\n`,
  );
}

async function openSharedStore(values: Record<string, unknown>): Promise<Store> {
  const config = loadConfig({
    flags: {
      home: values.home as string | undefined,
      databaseUrl: values["database-url"] as string | undefined,
    },
  });
  return await openStore({ home: config.home, databaseUrl: config.databaseUrl });
}

function formatOf(values: Record<string, unknown>): "json" | "table" {
  const format = values.json ? "json" : (values.format as string | undefined) ?? "table";
  if (format !== "json" && format !== "table") {
    throw new UsageError(`--format must be json or table, got '${format}'`);
  }
  return format;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** Runs a parsed `code` command (the help was handled before this module was loaded). */
export async function runCode(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const [command, target, ...rest] = positionals;
  const format = formatOf(values);
  switch (command) {
    case "run":
      if (!target) {
        throw new UsageError("run needs the agent config: a3s code run AGENT.hcl [TASK]");
      }
      return await run(target, rest.join(" "), values, format);
    case "mcp": {
      if (!target) throw new UsageError("mcp needs the agent config: a3s code mcp AGENT.hcl");
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const agent = await Agent.create(target);
      try {
        await serveMcpStdio(agent);
      } finally {
        await agent.close();
      }
      return 0;
    }
    case "check":
    case "tools": {
      if (!target) {
        throw new UsageError(`${command} needs the agent config: a3s code ${command} AGENT.hcl`);
      }
      if (command === "check") {
        const { config } = await loadAgentConfig(target);
        if (format === "json") console.log(JSON.stringify(config, null, 2));
        else {
          console.log(
            `${target}: ok\n  model: ${config.default_model}\n  providers: ${
              config.providers.map((p) => `${p.name} (${p.kind})`).join(", ") ||
              "power (implicit)"
            }\n  permissions: ${config.permissions.preset}\n  hooks: ${config.hooks.length}, mcp servers: ${config.mcp.length}, subagents: ${config.agents.length}\n  sandbox: ${config.box.driver}, safeclaw: ${
              config.safeclaw.enabled ? "on" : "off"
            }`,
          );
        }
        return 0;
      }
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      return await listTools(target, values.connect === true, format);
    }
    case "audit": {
      if (target !== "ls") throw new UsageError("audit takes one subcommand: ls");
      const store = await openSharedStore(values);
      try {
        const entries = await (await StoreAuditLog.open(store)).list({
          sessionId: values.session as string | undefined,
          limit: 100,
        });
        if (format === "json") console.log(JSON.stringify(entries, null, 2));
        else {
          console.log(
            entries.length
              ? table(
                ["AT", "SESSION", "TOOL", "DECISION", "ERROR", "MS", "TAINTED"],
                entries.map((e) => [
                  new Date(e.at).toISOString(),
                  e.sessionId,
                  e.tool,
                  e.decision,
                  e.isError ? "yes" : "",
                  String(e.durationMs),
                  e.tainted.join(","),
                ]),
              )
              : "no audited calls",
          );
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    case "sessions": {
      if (target !== "ls") throw new UsageError("sessions takes one subcommand: ls");
      const store = await openSharedStore(values);
      try {
        const list = await (await StoreHistory.open(store)).list(50);
        if (format === "json") console.log(JSON.stringify(list, null, 2));
        else {
          console.log(
            list.length
              ? table(
                ["ID", "AGENT", "MESSAGES", "UPDATED", "TITLE"],
                list.map((
                  s,
                ) => [
                  s.id,
                  s.agent,
                  String(s.messages),
                  new Date(s.updatedAt).toISOString(),
                  s.title.slice(0, 50),
                ]),
              )
              : "no sessions",
          );
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    default:
      throw new UsageError(
        command === undefined
          ? "missing command: run, mcp, check, tools, sessions ls or audit ls"
          : `unknown command '${command}'; run with --help`,
      );
  }
}

/**
 * `code tools`: the agent's tools. A config's MCP servers are programs it names (a cloned
 * repository's config may name any): they are started only with `connect`; otherwise each is
 * listed as one not connected.
 */
async function listTools(
  configPath: string,
  connect: boolean,
  format: "json" | "table",
): Promise<number> {
  const loaded = await loadAgentConfig(configPath);
  const servers = loaded.config.mcp;
  const agent = await Agent.fromConfig(
    connect ? loaded.config : { ...loaded.config, mcp: [] },
    { baseDir: loaded.baseDir },
  );
  try {
    const tools = [...agent.tools.values()];
    const unconnected = connect ? [] : servers.map((server) => ({
      name: `mcp__${server.name}__*`,
      server: server.name,
      connected: false,
      enabled: server.enabled,
      description: `${server.enabled ? "not connected" : "disabled"}: ${
        server.transport === "http" ? server.url : server.command
      } (--connect lists its tools)`,
    }));
    if (format === "json") {
      console.log(
        JSON.stringify(
          [
            ...tools.map((t) => ({
              name: t.name,
              effect: t.effect,
              description: t.description,
              parameters: t.parameters,
            })),
            ...unconnected,
          ],
          null,
          2,
        ),
      );
    } else {
      console.log(
        table(
          ["NAME", "EFFECT", "DESCRIPTION"],
          [
            ...tools.map((t) => [t.name, t.effect, t.description.slice(0, 70)]),
            ...unconnected.map((s) => [s.name, "", s.description.slice(0, 70)]),
          ],
        ),
      );
    }
  } finally {
    await agent.close();
  }
  return 0;
}

async function run(
  configPath: string,
  task: string,
  values: Record<string, unknown>,
  format: "json" | "table",
): Promise<number> {
  const store = values["no-store"] ? undefined : await openSharedStore(values);
  const lines = new LineReader();
  const interactive = !task;
  const approver = async (req: ApprovalRequest) => {
    // A call safeclaw holds (tainted data in it, an exfiltration pattern) is what a hostile
    // tool result would ask for: --yes never approves it; a person at the terminal may.
    const held = (req.reasons?.length ?? 0) > 0;
    if (values.yes && !held) return true;
    if (!Deno.stdin.isTerminal() && !interactive) return false;
    err(
      `\nAllow ${req.tool}${req.subject ? `(${req.subject})` : ""}${
        req.reasons?.length
          ? ` [safeclaw holds it: ${req.reasons.join("; ")}]`
          : req.rule
          ? ` [rule ${req.rule}]`
          : ""
      }? [y/N] `,
    );
    const answer = await lines.line();
    return /^y(es)?$/i.test(answer?.trim() ?? "");
  };
  const loaded = await loadAgentConfig(configPath);
  const home = loadConfig({ flags: { home: values.home as string | undefined } }).home;
  const wired = await moduleIntegrations(loaded.config, loaded.baseDir, store, home);
  const agent = await Agent.fromConfig(loaded.config, {
    baseDir: loaded.baseDir,
    store,
    approver,
    ...wired.options,
  });
  let failed = false;
  try {
    const session = values.session
      ? await agent.resume(values.session as string, { model: values.model as string | undefined })
      : agent.session({ model: values.model as string | undefined });
    if (!session) throw new UsageError(`no stored session '${values.session}'`);
    const show = async (events: AsyncIterable<AgentEvent>) => {
      for await (const e of events) {
        if (format === "json") console.log(JSON.stringify(e));
        else if (e.type === "done") summarize(e.result);
        else renderEvent(e);
        if (
          e.type === "done" &&
          (e.result.stopReason === "error" || e.result.stopReason === "blocked")
        ) failed = true;
        if (e.type === "done" && values.plan && format !== "json") out(`${e.result.text}\n`);
      }
    };
    const onSignal = () => session.cancel();
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      if (!interactive) {
        await show(
          values.plan
            ? runPlan(session, task, {
              maxConcurrency: agent.config.planning.max_concurrency,
              maxAttempts: agent.config.planning.max_attempts,
            })
            : session.stream(task),
        );
      } else {
        err(
          `${agent.name} (${agent.config.default_model}) in ${agent.workspace.root}; session ${session.id}. Empty line or Ctrl-D ends.\n`,
        );
        while (true) {
          err("\n> ");
          const line = await lines.line();
          if (line === undefined || !line.trim()) break;
          await show(session.stream(line));
        }
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
      await session.close();
    }
  } finally {
    await agent.close();
    await wired.close();
    await store?.close();
  }
  return failed ? 1 : 0;
}
