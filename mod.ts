/**
 * a3s, the Agent Operating System. Run `deno run -A mod.ts <command>`; import this file for
 * the public API of every module.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./mod.ts";
 * console.log(loadConfig({ env: {} }).port); // 11434
 * ```
 * @module
 */
import { runCommand, UsageError } from "@a3s/common";

export * from "@a3s/common";

type CommandMain = (args: string[]) => Promise<number>;

/** Every top-level command, loaded on demand. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  serve: {
    summary: "start the HTTP API",
    load: () => import("./serve.ts").then((m) => m.serveCommand),
  },
  // module commands register here, one entry each
  code: {
    summary: "run agents in the terminal, serve their tools over MCP",
    load: () => import("./code/cli.ts").then((m) => m.main),
  },
  token: {
    summary: "create, list and revoke API tokens",
    load: () => import("./common/token_cli.ts").then((m) => m.main),
  },
  tokens: {
    summary: "count, encode and decode tokens",
    load: () => import("./wasm/tokens_cli.ts").then((m) => m.main),
  },
  power: {
    summary: "run and manage local models",
    load: () => import("./power/cli.ts").then((m) => m.main),
  },
  lane: {
    summary: "inspect queues and the dead-letter queue",
    load: () => import("./lane/cli.ts").then((m) => m.main),
  },
  safeclaw: {
    summary: "scan text for PII and secrets",
    load: () => import("./safeclaw/cli.ts").then((m) => m.main),
  },
  box: {
    summary: "run commands in sandboxes (namespace or VM) and manage images",
    load: () => import("./box/cli.ts").then((m) => m.main),
  },
  search: {
    summary: "meta search and the local full-text index",
    load: () => import("./search/cli.ts").then((m) => m.main),
  },
  event: {
    summary: "publish, follow and list events on the bus",
    load: () => import("./event/cli.ts").then((m) => m.main),
  },
  gateway: {
    summary: "run the reverse proxy from a config file, check it, hash keys",
    load: () => import("./gateway/cli.ts").then((m) => m.main),
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
