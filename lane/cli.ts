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
  outputFormat,
  parseCommand,
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
    const [command, sub, id, ...extra] = positionals;
    const known = command === "stats" || command === "ls" || command === "inspect" ||
      (command === "dlq" && (sub === "ls" || sub === "retry" || sub === "purge"));
    if (!known) {
      throw new UsageError(
        command === undefined
          ? "missing command: stats, ls, inspect ID, dlq ls, dlq retry ID or dlq purge [ID]"
          : `unknown command '${[command, sub].filter(Boolean).join(" ")}'; run with --help`,
      );
    }
    if (command === "inspect" && sub === undefined) {
      throw new UsageError("inspect needs the job ID");
    }
    if (command === "inspect" && id !== undefined) {
      throw new UsageError(`'inspect' takes one job ID, got '${id}' too`);
    }
    if (command !== "dlq" && command !== "inspect" && sub !== undefined) {
      throw new UsageError(`'${command}' takes no arguments, got '${sub}'`);
    }
    if (command === "dlq" && sub === "retry" && id === undefined) {
      throw new UsageError("dlq retry needs the job ID");
    }
    if (command === "dlq" && sub === "ls" && id !== undefined) {
      throw new UsageError(`'dlq ls' takes no arguments, got '${id}'`);
    }
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const lane: LaneName | undefined = values.lane === undefined
      ? undefined
      : parseLaneName(values.lane, "--lane");
    const state = values.state as string | undefined;
    if (state !== undefined && !JOB_STATES.includes(state as JobState)) {
      throw new UsageError(`--state must be one of ${JOB_STATES.join(", ")}, got '${state}'`);
    }
    const limit = intFlag(values, "limit") ?? 50;
    if (limit < 1) throw new UsageError(`--limit must be at least 1, got ${limit}`);
    const session = values.session as string | undefined;
    const format = outputFormat(values);
    const config = loadConfig({
      flags: { home: values.home, databaseUrl: values["database-url"] },
    });
    const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
    const scheduler = await DurableLane.open({ store, process: false }).catch(async (error) => {
      await store.close();
      throw error;
    });
    const print = (value: unknown, text: () => string) => printFormatted(format, value, text);
    try {
      if (command === "stats") {
        const stats = await scheduler.stats();
        print(stats.lanes, () => {
          const header = ["LANE", ...JOB_STATES.map((s) => s.toUpperCase())];
          const rows = LANE_NAMES.map((name) => [
            name,
            ...JOB_STATES.map((s) => String(stats.lanes[name][s])),
          ]);
          return renderTable(header, rows);
        });
      } else if (command === "ls") {
        const jobs = await scheduler.list({ session, lane, state: state as JobState, limit });
        print(jobs, () => jobTable(jobs));
      } else if (command === "inspect") {
        const job = await scheduler.get(sub!);
        if (!job) throw new NotFoundError(`job '${sub}' not found`, "id");
        print(job, () => jobDetail(job));
      } else if (sub === "ls") {
        const jobs = await scheduler.dlq.list({ session, lane, limit });
        print(jobs, () => jobTable(jobs));
      } else if (sub === "retry") {
        const job = await scheduler.dlq.retry(id!);
        print(job, () => `requeued ${job.id} in ${job.lane}`);
      } else {
        const purged = await scheduler.dlq.purge({ id, session, lane });
        print({ purged }, () => `purged ${purged} dead job${purged === 1 ? "" : "s"}`);
      }
    } finally {
      await scheduler.close();
      await store.close();
    }
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
