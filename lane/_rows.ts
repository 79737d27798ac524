/** Between stored job rows and the public job shape: JSON columns, new rows, claim order. */
import { ValidationError } from "@a3s/common";
import type { LaneName } from "./lanes.ts";
import { type RetryPolicy, storedRetry } from "./retry.ts";
import type { JobRow } from "./_schema.ts";
import type { JobError, JobInfo, JobState, SubmitOptions } from "./types.ts";

/** Reads a JSON column; SQL null reads as null. */
export function parseJson(text: string | null): unknown {
  if (text === null || text === undefined) return null;
  return JSON.parse(text);
}

/** Writes a JSON column, or a 400 naming `field` when the value has no JSON form. */
export function toJson(value: unknown, field: string): string {
  try {
    return JSON.stringify(value ?? null) ?? "null";
  } catch (error) {
    throw new ValidationError(
      `${field}: not JSON-serializable (${(error as Error).message})`,
      field,
    );
  }
}

/** A value's JSON text, or `null` for one that has none (a result or progress is advisory). */
export function toJsonOrNull(value: unknown): string {
  try {
    return JSON.stringify(value ?? null) ?? "null";
  } catch {
    return "null";
  }
}

/** A row's error history. */
export function errorsOf(row: Pick<JobRow, "errors">): JobError[] {
  return parseJson(row.errors) as JobError[];
}

/** Maps a stored row to the public job shape. */
export function rowToInfo(row: JobRow): JobInfo {
  return {
    id: row.id,
    session: row.session,
    lane: row.lane as LaneName,
    kind: row.kind,
    payload: parseJson(row.payload),
    state: row.state as JobState,
    priority: Number(row.priority),
    key: row.limit_key,
    idempotencyKey: row.idempotency_key,
    dependsOn: parseJson(row.depends_on) as string[],
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    runAt: Number(row.run_at),
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    result: parseJson(row.result),
    progress: parseJson(row.progress),
    errors: errorsOf(row),
  };
}

/** The fields of a job that events and waiters name, read from a row. */
export function rowSubject(row: Pick<JobRow, "id" | "session" | "lane" | "kind" | "attempts">): {
  id: string;
  session: string;
  lane: LaneName;
  kind: string;
  attempts: number;
} {
  return {
    id: row.id,
    session: row.session,
    lane: row.lane as LaneName,
    kind: row.kind,
    attempts: Number(row.attempts),
  };
}

/** What a new queued row is made of. */
export interface NewJob {
  session: string;
  lane: LaneName;
  rank: number;
  kind: string;
  payload: unknown;
  retry: RetryPolicy;
  options: SubmitOptions;
  now: number;
}

/** A queued row for a new job, with a fresh id. */
export function newJobRow(job: NewJob): JobRow {
  const { options, now } = job;
  return {
    id: crypto.randomUUID(),
    session: job.session,
    lane: job.lane,
    lane_rank: job.rank,
    kind: job.kind,
    payload: toJson(job.payload, "payload"),
    state: "queued",
    priority: options.priority ?? 0,
    limit_key: options.key ?? null,
    idempotency_key: options.idempotencyKey ?? null,
    depends_on: JSON.stringify(options.dependsOn ?? []),
    attempts: 0,
    max_attempts: job.retry.maxAttempts,
    retry: JSON.stringify(storedRetry(job.retry)),
    timeout_ms: options.timeoutMs ?? null,
    run_at: now + (options.delayMs ?? 0),
    lease_until: null,
    worker: null,
    cancel_requested: 0,
    result: null,
    progress: null,
    errors: "[]",
    created_at: now,
    started_at: null,
    finished_at: null,
  };
}

/** True when `a` is claimed before `b`: lane rank, then priority (higher first), then FIFO. */
function claimedBefore(a: JobRow, b: JobRow): boolean {
  const ra = Number(a.lane_rank), rb = Number(b.lane_rank);
  if (ra !== rb) return ra < rb;
  const pa = Number(a.priority), pb = Number(b.priority);
  if (pa !== pb) return pa > pb;
  return Number(a.seq) < Number(b.seq);
}

/** Merges two lists already in claim order into one. */
export function mergeInClaimOrder(a: JobRow[], b: JobRow[]): JobRow[] {
  if (!a.length) return b;
  const out: JobRow[] = [];
  let i = 0, k = 0;
  while (i < a.length || k < b.length) {
    if (k >= b.length || (i < a.length && claimedBefore(a[i], b[k]))) out.push(a[i++]);
    else out.push(b[k++]);
  }
  return out;
}
