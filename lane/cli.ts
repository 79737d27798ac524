/**
 * `a3s lane stats|ls|inspect ID|dlq ls|dlq retry ID|dlq purge [ID]`: inspect the durable
 * queues of the configured store (the data dir's SQLite file, or `--database-url`). The commands
 * live in `cli_commands.ts`, loaded once one runs: the store and the scheduler take most of a
 * second to load, `--help` and a usage error none of it.
 */
import {
  FORMAT_HELP,
  FORMAT_OPTIONS,
  importOnDemand,
  intFlag,
  outputFormat,
  parseCommand,
  type ParsedArgs,
  runCommand,
} from "@a3s/common/cli";
import { UsageError } from "@a3s/common/errors";
import { LANE_NAMES, type LaneName, parseLaneName } from "./lanes.ts";
import { JOB_STATES, type JobState } from "./types.ts";

const HELP = `Usage: a3s lane <command> [options]

Commands:
  stats              job counts per lane and state
  ls                 list jobs (oldest first)
  inspect ID         one job with its payload, result and error history
  dlq ls             list dead-lettered jobs with their last error
  dlq retry ID       requeue a dead job with a fresh attempt count
  dlq purge [ID]     delete one dead job, or all that match --session/--lane

Options:
  --session NAME     only this session
  --lane LANE        only this lane (${LANE_NAMES.join(", ")})
  --state STATE      only this state, for ls (${JOB_STATES.join(", ")})
  --limit N          at most N jobs (default 50)
${FORMAT_HELP}
  --home DIR         data dir (env A3S_HOME)
  --database-url URL PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help         show this help`;

/** A lane command line, checked. */
export interface LaneCommand {
  /** `stats`, `ls`, `inspect`, `dlq ls`, `dlq retry` or `dlq purge`. */
  name: string;
  /** The job ID of `inspect`, `dlq retry` and `dlq purge ID`. */
  id?: string;
  session?: string;
  lane?: LaneName;
  state?: JobState;
  limit: number;
}

const COMMANDS = ["stats", "ls", "inspect", "dlq ls", "dlq retry", "dlq purge"];
/** The commands that take a job ID: required for some, optional for `dlq purge`. */
const ID_ARGUMENT: Record<string, "required" | "optional" | undefined> = {
  inspect: "required",
  "dlq retry": "required",
  "dlq purge": "optional",
};

/** Checks the positionals and filters; every mistake is one {@linkcode UsageError}. */
function parseLaneCommand(positionals: string[], values: ParsedArgs["values"]): LaneCommand {
  const [first, ...rest] = positionals;
  const name = first === "dlq" && rest.length ? `dlq ${rest.shift()}` : first;
  if (name === undefined || !COMMANDS.includes(name)) {
    throw new UsageError(
      name === undefined
        ? "missing command: stats, ls, inspect ID, dlq ls, dlq retry ID or dlq purge [ID]"
        : `unknown command '${name}'; run with --help`,
    );
  }
  const takesId = ID_ARGUMENT[name];
  if (takesId === "required" && rest.length === 0) throw new UsageError(`${name} needs the job ID`);
  const allowed = takesId ? 1 : 0;
  if (rest.length > allowed) {
    throw new UsageError(
      `'${name}' takes ${allowed ? "one job ID" : "no arguments"}, got '${rest[allowed]}'`,
    );
  }
  const state = values.state as string | undefined;
  if (state !== undefined && !JOB_STATES.includes(state as JobState)) {
    throw new UsageError(`--state must be one of ${JOB_STATES.join(", ")}, got '${state}'`);
  }
  const limit = intFlag(values, "limit") ?? 50;
  if (limit < 1) throw new UsageError(`--limit must be at least 1, got ${limit}`);
  return {
    name,
    id: rest[0],
    session: values.session as string | undefined,
    lane: values.lane === undefined ? undefined : parseLaneName(values.lane as string, "--lane"),
    state: state as JobState | undefined,
    limit,
  };
}

/** Runs the `lane` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      session: { type: "string" },
      lane: { type: "string" },
      state: { type: "string" },
      limit: { type: "string" },
      ...FORMAT_OPTIONS,
      home: { type: "string" },
      "database-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const command = parseLaneCommand(positionals, values);
    const format = outputFormat(values);
    const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
      "./cli_commands.ts",
      import.meta.url,
    );
    await commands.runLane(command, format, {
      home: values.home as string | undefined,
      databaseUrl: values["database-url"] as string | undefined,
    });
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
