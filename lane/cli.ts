/**
 * `a3s lane stats|ls|inspect ID|dlq ls|dlq retry ID|dlq purge [ID]`: inspect the durable
 * queues of the configured store (the data dir's SQLite file, or `--database-url`).
 */
import {
  FORMAT_HELP,
  FORMAT_OPTIONS,
  intFlag,
  loadConfig,
  NotFoundError,
  openStore,
  type OutputFormat,
  outputFormat,
  parseCommand,
  type ParsedArgs,
  printFormatted,
  renderTable,
  runCommand,
  UsageError,
} from "@a3s/common";
import { DurableLane } from "./durable_lane.ts";
import { LANE_NAMES, type LaneName, parseLaneName } from "./lanes.ts";
import { JOB_STATES, type JobInfo, type JobState } from "./types.ts";

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

function jobTable(jobs: JobInfo[]): string {
  const rows = jobs.map((job) => [
    job.id,
    job.lane,
    job.session,
    job.kind,
    job.state,
    `${job.attempts}/${job.maxAttempts}`,
    job.errors.at(-1)?.message ?? "",
  ]);
  const header = ["ID", "LANE", "SESSION", "KIND", "STATE", "ATTEMPTS", "LAST ERROR"];
  return renderTable(header, rows, "no jobs");
}

/** One job as `FIELD  value` lines, then its error history. */
function jobDetail(job: JobInfo): string {
  const time = (ms: number | null) => ms === null ? "-" : new Date(ms).toISOString();
  const fields: [string, string][] = [
    ["ID", job.id],
    ["SESSION", job.session],
    ["LANE", job.lane],
    ["KIND", job.kind],
    ["STATE", job.state],
    ["PRIORITY", String(job.priority)],
    ["KEY", job.key ?? "-"],
    ["ATTEMPTS", `${job.attempts}/${job.maxAttempts}`],
    ["DEPENDS ON", job.dependsOn.join(", ") || "-"],
    ["CREATED", time(job.createdAt)],
    ["STARTED", time(job.startedAt)],
    ["FINISHED", time(job.finishedAt)],
    ["PAYLOAD", JSON.stringify(job.payload)],
    ["RESULT", JSON.stringify(job.result)],
  ];
  const detail = renderTable(["FIELD", "VALUE"], fields);
  if (!job.errors.length) return detail;
  const errors = job.errors.map((e) => [String(e.attempt), e.code, time(e.at), e.message]);
  return `${detail}\n\n${renderTable(["ATTEMPT", "CODE", "AT", "ERROR"], errors)}`;
}

/** A lane command line, checked. */
interface LaneCommand {
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

/** Runs one checked command against `scheduler` and prints its outcome. */
async function runLaneCommand(
  scheduler: DurableLane,
  command: LaneCommand,
  format: OutputFormat,
): Promise<void> {
  const { id, session, lane, state, limit } = command;
  const print = (value: unknown, text: () => string) => printFormatted(format, value, text);
  switch (command.name) {
    case "stats": {
      const { lanes } = await scheduler.stats();
      const header = ["LANE", ...JOB_STATES.map((s) => s.toUpperCase())];
      const rows = LANE_NAMES.map((
        name,
      ) => [name, ...JOB_STATES.map((s) => String(lanes[name][s]))]);
      return print(lanes, () => renderTable(header, rows));
    }
    case "ls": {
      const jobs = await scheduler.list({ session, lane, state, limit });
      return print(jobs, () => jobTable(jobs));
    }
    case "inspect": {
      const job = await scheduler.get(id!);
      if (!job) throw new NotFoundError(`job '${id}' not found`, "id");
      return print(job, () => jobDetail(job));
    }
    case "dlq ls": {
      const jobs = await scheduler.dlq.list({ session, lane, limit });
      return print(jobs, () => jobTable(jobs));
    }
    case "dlq retry": {
      const job = await scheduler.dlq.retry(id!);
      return print(job, () => `requeued ${job.id} in ${job.lane}`);
    }
    default: {
      const purged = await scheduler.dlq.purge({ id, session, lane });
      return print({ purged }, () => `purged ${purged} dead job${purged === 1 ? "" : "s"}`);
    }
  }
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
    const config = loadConfig({
      flags: { home: values.home, databaseUrl: values["database-url"] },
    });
    const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
    try {
      const scheduler = await DurableLane.open({ store, process: false });
      try {
        await runLaneCommand(scheduler, command, format);
      } finally {
        await scheduler.close();
      }
    } finally {
      await store.close();
    }
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
