/**
 * `a3s code run|mcp|check|tools|sessions|audit`: the command line of the agent framework. The
 * commands live in `cli_commands.ts`, loaded once one is asked for: the agent framework (with the
 * sandboxes, the model engine, search and MCP) takes a second or two to load, `--help` none of it.
 */
import { importOnDemand, parseCommand, runCommand } from "@a3s/common/cli";
import { UsageError } from "@a3s/common/errors";

const HELP = `Usage: a3s code <command> [options]

Commands:
  run AGENT.hcl [TASK]   run TASK and stream its events; without TASK, an interactive session
  mcp AGENT.hcl          serve the agent's tools to MCP clients over stdio
  check AGENT.hcl        validate a config and print what it sets up
  tools AGENT.hcl        list the agent's tools (built-in and MCP)
  sessions ls            list stored sessions
  audit ls               list audited tool calls (--session ID)

Options:
  --plan                 plan the task into parallel steps run by subagents (run)
  --session ID           resume a stored session (run)
  --model PROVIDER/MODEL override the default model (run)
  --yes                  approve every 'ask' without asking, but not a call safeclaw
                         holds (tainted data, exfiltration): that one is still asked (run)
  --no-store             keep history in memory only (run)
  --format json|table    output format (check, tools, sessions ls; run: json prints JSON lines)
  --json                 shorthand for --format json
  --home DIR             data dir (env A3S_HOME)
  --database-url URL     PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help             show this help`;

/** Runs the `code` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      plan: { type: "boolean" },
      session: { type: "string" },
      model: { type: "string" },
      yes: { type: "boolean" },
      "no-store": { type: "boolean" },
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
    const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
      "./cli_commands.ts",
      import.meta.url,
    );
    return await commands.runCode(values, positionals);
  });
}
