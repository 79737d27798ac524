/**
 * How long finished jobs stay readable, as BullMQ's `removeOnComplete` and `removeOnFail` say
 * it: an age and a count, per lane. Both schedulers prune by these policies; this file holds
 * the shapes, the defaults and their validation.
 */
import { ValidationError } from "@a3s/common";

/**
 * Which finished jobs of one class a lane keeps. A bound left out is no bound: `{}` keeps them
 * all until purged, `{ maxCount: 0 }` removes them as soon as they finish.
 */
export interface KeepJobs {
  /** Removes a job this many milliseconds after it finished. */
  maxAgeMs?: number;
  /** Keeps at most this many per lane, the most recently finished. */
  maxCount?: number;
}

/** The retention of finished jobs, by how they ended. */
export interface RetentionOptions {
  /**
   * Completed and cancelled jobs (BullMQ's `removeOnComplete`). Default
   * {@linkcode DEFAULT_KEEP_COMPLETED}: a day, and 1000 per lane.
   */
  completed?: KeepJobs;
  /**
   * Dead-lettered jobs (BullMQ's `removeOnFail`). Default `{}`: kept until
   * `lane.dlq.purge()` or `retry()` takes them out.
   */
  dead?: KeepJobs;
}

/** The retention of completed and cancelled jobs when none is configured. */
export const DEFAULT_KEEP_COMPLETED: Readonly<KeepJobs> = Object.freeze({
  maxAgeMs: 24 * 60 * 60 * 1000,
  maxCount: 1000,
});

/**
 * A validated retention, both classes filled in.
 *
 * @internal
 */
export interface Retention {
  completed: KeepJobs;
  dead: KeepJobs;
}

/**
 * Fills in the defaults and checks every bound, naming the field that is wrong. Unknown keys
 * and values that are not objects are errors, not defaults: a typo such as `{ count: 5 }`
 * would otherwise keep every job, silently.
 */
export function resolveRetention(options: RetentionOptions | undefined): Retention {
  if (options === undefined) {
    return { completed: { ...DEFAULT_KEEP_COMPLETED }, dead: {} };
  }
  checkKeys(options, "retention", ["completed", "dead"]);
  return {
    completed: options.completed === undefined
      ? { ...DEFAULT_KEEP_COMPLETED }
      : checkKeep(options.completed, "retention.completed"),
    dead: options.dead === undefined ? {} : checkKeep(options.dead, "retention.dead"),
  };
}

/** True when `keep` bounds nothing, so its jobs need no tracking for pruning. */
export function keepsAll(keep: KeepJobs): boolean {
  return keep.maxAgeMs === undefined && keep.maxCount === undefined;
}

/** Throws unless `value` is a plain object whose keys are all among `known`. */
function checkKeys(value: unknown, field: string, known: readonly string[]): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ValidationError(`${field}: must be an object`, field);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ValidationError(
        `${field}.${key}: unknown key (expected ${known.join(" or ")})`,
        `${field}.${key}`,
      );
    }
  }
}

function checkKeep(keep: KeepJobs, field: string): KeepJobs {
  checkKeys(keep, field, ["maxAgeMs", "maxCount"]);
  const { maxAgeMs, maxCount } = keep;
  if (maxAgeMs !== undefined && !(Number.isInteger(maxAgeMs) && maxAgeMs >= 0)) {
    throw new ValidationError(
      `${field}.maxAgeMs: must be a non-negative integer`,
      `${field}.maxAgeMs`,
    );
  }
  if (maxCount !== undefined && !(Number.isInteger(maxCount) && maxCount >= 0)) {
    throw new ValidationError(
      `${field}.maxCount: must be a non-negative integer`,
      `${field}.maxCount`,
    );
  }
  return { maxAgeMs, maxCount };
}
