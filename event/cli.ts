/**
 * `a3s event pub|sub|ls`: publish, follow and inspect the bus `serve` uses. The commands live in
 * `cli_commands.ts`, loaded once one runs: the bus with its broker clients takes most of a second
 * to load, `--help` none of it.
 */
import {
  FORMAT_HELP,
  FORMAT_OPTIONS,
  importOnDemand,
  outputFormat,
  parseCommand,
} from "@a3s/common/cli";
import { UsageError } from "@a3s/common/errors";

const HELP = `Usage: a3s event <command> [options]

Commands:
  pub SUBJECT [JSON|-]   publish one event (JSON payload from the argument, or stdin with -)
  sub PATTERN            print matching events as CloudEvent JSON lines until --count or Ctrl-C
  ls [subjects|consumers]  list subjects with their counts, or durable consumers with their lag

Options:
  --url URL              nats://…, redis://…, memory or store (env A3S_EVENT_URL; default store)
  --home DIR             data dir of the store (env A3S_HOME)
  --database-url URL     PostgreSQL store (env A3S_DATABASE_URL)
  --config FILE          config file (env A3S_CONFIG)
  --key KEY              pub: ordering key
  --header NAME=VALUE    pub: extension attribute (repeatable)
  --id ID                pub: event id (a repeat within the window is a no-op)
  --after SEQ            sub: replay events after this seq first
  --count N              sub: exit after N events
${FORMAT_HELP}
  -h, --help             show this help`;

const OPTIONS = {
  ...FORMAT_OPTIONS,
  url: { type: "string" },
  home: { type: "string" },
  "database-url": { type: "string" },
  config: { type: "string" },
  key: { type: "string" },
  header: { type: "string", multiple: true },
  id: { type: "string" },
  after: { type: "string" },
  count: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const COMMANDS = ["pub", "sub", "ls"] as const;

/** Runs `a3s event …`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown event command '${command}'; run with --help`);
  }
  if (command === "ls") outputFormat(values);
  const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
    "./cli_commands.ts",
    import.meta.url,
  );
  return await commands.runEvent(command as typeof COMMANDS[number], rest, values);
}

if (import.meta.main) {
  const { runCommand } = await import("@a3s/common/cli");
  Deno.exit(await runCommand(() => main(Deno.args)));
}
