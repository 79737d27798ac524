/**
 * The errors a job can end with, each a class with a stable code, so the schedulers decide by
 * type (`instanceof`) and never by comparing message or code strings.
 */
import { A3sError } from "@a3s/common";

/** The attempt ran past its timeout. */
export class JobTimeoutError extends A3sError {
  /** Names the timeout that ran out. */
  constructor(ms: number) {
    super("timeout", `job timed out after ${ms} ms`, { status: 504 });
    this.name = "JobTimeoutError";
  }
}

/** The job was cancelled. */
export class JobCancelledError extends A3sError {
  /** Optionally says why. */
  constructor(reason = "job was cancelled") {
    super("cancelled", reason, { status: 409 });
    this.name = "JobCancelledError";
  }
}

/**
 * The scheduler is closed, or closed while a job ran or was awaited. An attempt aborted by it
 * is handed back to the queue and does not count.
 */
export class LaneClosedError extends A3sError {
  /** Says what the close interrupted. */
  constructor(message = "the scheduler is closed") {
    super("lane_closed", message, { status: 503 });
    this.name = "LaneClosedError";
  }
}

/** A dependency ended without completing, so its dependents never run. */
export class DependencyFailedError extends A3sError {
  /** Names the dependency. */
  constructor(readonly dependency: string) {
    super("dependency_failed", `dependency ${dependency} did not complete`, { status: 409 });
    this.name = "DependencyFailedError";
  }
}

/** A worker's lease on a running job ran out (the process died or stalled). */
export class LeaseExpiredError extends A3sError {
  /** Names the worker whose lease expired. */
  constructor(worker: string | null) {
    super("lease_expired", `lease of worker ${worker} expired before the job finished`, {
      status: 500,
    });
    this.name = "LeaseExpiredError";
  }
}
