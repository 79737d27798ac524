/** The lane commands `cli.ts` runs once their arguments are checked, on the configured store. */
import {
  loadConfig,
  NotFoundError,
  openStore,
  type OutputFormat,
  printFormatted,
  renderTable,
} from "@a3s/common";
import type { LaneCommand } from "./cli.ts";
import { DurableLane } from "./durable_lane.ts";
import { LANE_NAMES } from "./lanes.ts";
import { JOB_STATES, type JobInfo } from "./types.ts";

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

/** Opens the store named by the flags (or the config), runs `command` and closes it. */
export async function runLane(
  command: LaneCommand,
  format: OutputFormat,
  flags: { home?: string; databaseUrl?: string },
): Promise<void> {
  const config = loadConfig({ flags });
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
}
