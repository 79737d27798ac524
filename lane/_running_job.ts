/** A job this process is running for the durable scheduler, and its finished attempts. */
import type { Attempt } from "./attempt.ts";
import type { LaneName } from "./lanes.ts";
import type { RetryPolicy } from "./retry.ts";
import type { JobError } from "./types.ts";

/**
 * A claimed job while its attempt runs here.
 *
 * @internal
 */
export interface RunningJob {
  id: string;
  session: string;
  lane: LaneName;
  rank: number;
  kind: string;
  payload: unknown;
  key: string | null;
  /** The attempt running now, from 1. */
  attempts: number;
  /** The error history as claimed. */
  errors: JobError[];
  retry: RetryPolicy;
  /** When the job became due (epoch ms), for the wait metric. */
  readyAt: number;
  /** performance.now() when the attempt started, for the run metric. */
  startedAt: number;
  attempt?: Attempt<RunningJob>;
  cancelRequested: boolean;
  progress?: unknown;
}

/** An attempt's outcome, waiting to be written. */
export interface FinishedAttempt {
  job: RunningJob;
  ok: boolean;
  value: unknown;
}
