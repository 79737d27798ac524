/**
 * `a3s lane stats|ls|dlq ls|dlq retry ID|dlq purge [ID]`: inspect the durable queues of the
 * configured store (the data dir's SQLite file, or `--database-url`).
 */
import { intFlag, loadConfig, openStore, parseCommand, runCommand, UsageError } from "@a3s/common";
import { DurableLane } from "./durable_lane.ts";
import { LANE_NAMES, type LaneName, parseLaneName } from "./lanes.ts";
import { JOB_STATES, type JobInfo, type JobState } from "./types.ts";

const HELP = `Usage: a3s lane <command> [options]

Commands:
  stats              job counts per lane and state
  ls                 list jobs (oldest first)
  dlq ls             list dead-lettered jobs with their last error
  dlq retry ID       requeue a dead job with a fresh attempt count
  dlq purge [ID]     delete one dead job, or all that match --session/--lane

Options:
  --session NAME     only this session
  --lane LANE        only this lane (${LANE_NAMES.join(", ")})
  --state STATE      only this state, for ls (${JOB_STATES.join(", ")})
  --limit N          at most N jobs (default 50)
  --json             print JSON
  --home DIR         data dir (env A3S_HOME)
  --database-url URL PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help         show this help`;

function table(jobs: JobInfo[]): string {
  if (!jobs.length) return "no jobs";
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
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) =>
    r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()
  )
    .join("\n");
}

/** Runs the `lane` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      session: { type: "string" },
      lane: { type: "string" },
      state: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
      home: { type: "string" },
      "database-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [command, sub, id, ...extra] = positionals;
    const known = command === "stats" || command === "ls" ||
      (command === "dlq" && (sub === "ls" || sub === "retry" || sub === "purge"));
    if (!known) {
      throw new UsageError(
        command === undefined
          ? "missing command: stats, ls, dlq ls, dlq retry ID or dlq purge [ID]"
          : `unknown command '${[command, sub].filter(Boolean).join(" ")}'; run with --help`,
      );
    }
    if (command !== "dlq" && sub !== undefined) {
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
    const config = loadConfig({
      flags: { home: values.home, databaseUrl: values["database-url"] },
    });
    const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
    const scheduler = await DurableLane.open({ store, process: false }).catch(async (error) => {
      await store.close();
      throw error;
    });
    const print = (value: unknown, text: () => string) =>
      console.log(values.json ? JSON.stringify(value, null, 2) : text());
    try {
      if (command === "stats") {
        const stats = await scheduler.stats();
        print(stats.lanes, () => {
          const header = ["LANE", ...JOB_STATES.map((s) => s.toUpperCase())];
          const rows = LANE_NAMES.map((name) => [
            name,
            ...JOB_STATES.map((s) => String(stats.lanes[name][s])),
          ]);
          return [header, ...rows].map((r) => r.map((c) => c.padEnd(10)).join(" ").trimEnd())
            .join("\n");
        });
      } else if (command === "ls") {
        const jobs = await scheduler.list({ session, lane, state: state as JobState, limit });
        print(jobs, () => table(jobs));
      } else if (sub === "ls") {
        const jobs = await scheduler.dlq.list({ session, lane, limit });
        print(jobs, () => table(jobs));
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
