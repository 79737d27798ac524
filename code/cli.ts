/**
 * `a3s code run|mcp|check|tools|sessions|audit`: the command line of the agent framework. The
 * commands live in `cli_commands.ts`, loaded once one is asked for: the agent framework (with the
 * sandboxes, the model engine, search and MCP) takes a second or two to load, `--help` none of it.
 */
import { importOnDemand, parseCommand, runCommand } from "@a3s/common/cli";
import { A3sError, UsageError } from "@a3s/common/errors";

const HELP = `Usage: a3s code <command> [options]

Commands:
  run AGENT.hcl [TASK]   run TASK and stream its events; without TASK, an interactive session
  mcp AGENT.hcl          serve the agent's tools to MCP clients over stdio
  check AGENT.hcl        validate a config and print what it sets up
  tools AGENT.hcl        list the agent's tools; MCP servers are not started unless
                         --connect is given (their tools show as not connected)
  sessions ls            list stored sessions
  audit ls               list audited tool calls (--session ID)

Options:
  --plan                 plan the task into parallel steps run by subagents (run)
  --session ID           resume a stored session (run)
  --model PROVIDER/MODEL override the default model (run)
  --yes                  approve every 'ask' without asking, but not a call safeclaw
                         holds (tainted data, exfiltration): that one is still asked (run)
  --no-store             keep history in memory only (run)
  --connect              start the config's MCP servers to list their tools (tools)
  --format json|table    output format (check, tools, sessions ls; run: json prints JSON lines)
  --json                 shorthand for --format json
  --home DIR             data dir (env A3S_HOME)
  --database-url URL     PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help             show this help

Failures print one line: exit 1, or 2 for a usage error (A3S_DEBUG=1 adds the stack).`;

/** Runs the `code` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      plan: { type: "boolean" },
      session: { type: "string" },
      model: { type: "string" },
      yes: { type: "boolean" },
      "no-store": { type: "boolean" },
      connect: { type: "boolean" },
      format: { type: "string" },
      json: { type: "boolean" },
      home: { type: "string" },
      "database-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals[0] === undefined) {
      throw new UsageError("missing command: run, mcp, check, tools, sessions ls or audit ls");
    }
    try {
      const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
        "./cli_commands.ts",
        import.meta.url,
      );
      return await commands.runCode(values, positionals);
    } catch (error) {
      throw oneLine(error);
    }
  });
}

/**
 * A failure as one line: what `runCommand` prints with a stack (an error it does not know, such
 * as one a library threw) becomes a named runtime failure (exit 1) with its message alone.
 * `A3S_DEBUG` keeps the stack.
 */
export function oneLine(error: unknown): unknown {
  if (
    error instanceof A3sError || error instanceof UsageError ||
    error instanceof Deno.errors.BrokenPipe || Deno.env.get("A3S_DEBUG")
  ) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new A3sError("code_failed", message.split("\n")[0] || "failed");
}
