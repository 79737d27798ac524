/**
 * The `a3s` command line: `deno run -A cli.ts <command>` (or `mod.ts`, which also loads the
 * library API). Each command's module is loaded only when it is asked for, and this file imports
 * nothing but the CLI helpers, so a command such as `safeclaw scan --file` starts without the
 * server, the store or telemetry.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * console.log(await main(["--help"])); // 0
 * ```
 * @module
 */
import { importOnDemand, runCommand } from "@a3s/common/run-command";
import { UsageError } from "@a3s/common/errors";

type CommandMain = (args: string[]) => Promise<number>;

/** A command's entry, imported only when the command is asked for. */
function command(path: string, name = "main"): () => Promise<CommandMain> {
  return () =>
    importOnDemand<Record<string, CommandMain>>(path, import.meta.url).then((m) => m[name]);
}

/** Every top-level command, loaded on demand. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  serve: {
    summary: "start the HTTP API",
    load: command("./serve.ts", "serveCommand"),
  },
  // module commands register here, one entry each
  code: {
    summary: "run agents in the terminal, serve their tools over MCP",
    load: command("./code/cli.ts"),
  },
  token: {
    summary: "create, list and revoke API tokens",
    load: command("./common/token_cli.ts"),
  },
  tokens: {
    summary: "count, encode and decode tokens",
    load: command("./wasm/tokens_cli.ts"),
  },
  power: {
    summary: "run and manage local models",
    load: command("./power/cli.ts"),
  },
  lane: {
    summary: "inspect queues and the dead-letter queue",
    load: command("./lane/cli.ts"),
  },
  safeclaw: {
    summary: "scan text for PII and secrets",
    load: command("./safeclaw/cli.ts"),
  },
  box: {
    summary: "run commands in sandboxes (namespace or VM) and manage images",
    load: command("./box/cli.ts"),
  },
  search: {
    summary: "meta search and the local full-text index",
    load: command("./search/cli.ts"),
  },
  event: {
    summary: "publish, follow and list events on the bus",
    load: command("./event/cli.ts"),
  },
  gateway: {
    summary: "run the reverse proxy from a config file, check it, hash keys",
    load: command("./gateway/cli.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `Usage: a3s <command> [options]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun 'a3s <command> --help' for a command's options.`;
}

/** Dispatches `args` to a command and returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const [name, ...rest] = args;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      console.log(usage());
      return name === undefined ? 2 : 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(`unknown command '${name}'; run with --help to list commands`);
    }
    return await (await command.load())(rest);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
