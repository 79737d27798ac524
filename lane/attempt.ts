/**
 * Runs one attempt of a job: builds its context, enforces the timeout, and reports exactly
 * one outcome however the handler, the timer and a cancellation race.
 */
import { JobTimeoutError } from "./errors.ts";
import type { LaneName } from "./lanes.ts";
import type { JobContext, JobFunction } from "./types.ts";

/** The job fields a handler reads through its context. */
export interface AttemptSubject {
  readonly id: string;
  readonly session: string;
  readonly lane: LaneName;
  readonly kind: string;
  readonly payload: unknown;
}

/** Receives an attempt's progress reports and its single outcome. */
export interface AttemptOwner<J> {
  attemptProgress(job: J, value: unknown): void;
  attemptDone(job: J, ok: boolean, value: unknown): void;
}

/**
 * The context of one attempt, also the attempt's control: `abort()` aborts it. The
 * AbortController is created only when a handler reads `signal` or the attempt is aborted.
 *
 * An aborted attempt reports its outcome (the abort's reason) once its handler has settled,
 * or once the grace period given to `run()` has passed, whichever is first. Its owner holds
 * the job's concurrency slot until then: a handler that has not stopped may still be using
 * what the slot stands for (a model, a GPU, a tool), so freeing it at once would let one more
 * job than the limit run. The grace period bounds that, so a handler that ignores its signal
 * and never settles cannot hold a slot forever.
 */
export class Attempt<J extends AttemptSubject = AttemptSubject> implements JobContext {
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #owner: AttemptOwner<J> | undefined;
  #graceMs = 0;
  /** The reason of the first abort, reported as the outcome whatever the handler does. */
  #aborted: Error | undefined;

  constructor(readonly job: J, readonly attempt: number) {}

  get id(): string {
    return this.job.id;
  }
  get session(): string {
    return this.job.session;
  }
  get lane(): LaneName {
    return this.job.lane;
  }
  get kind(): string {
    return this.job.kind;
  }
  get payload(): unknown {
    return this.job.payload;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  progress(value: unknown): void {
    this.#owner?.attemptProgress(this.job, value);
  }

  /** True while the attempt has not reported its outcome. */
  get running(): boolean {
    return this.#owner !== undefined;
  }

  /** True once aborted, while it may still wait for its handler to settle. */
  get aborted(): boolean {
    return this.#aborted !== undefined;
  }

  /**
   * Starts `fn`; the owner hears the outcome once. `graceMs` is how long an aborted attempt
   * waits for `fn` to settle before it reports (0: at once).
   */
  run(
    fn: JobFunction,
    timeoutMs: number | undefined,
    owner: AttemptOwner<J>,
    graceMs = 0,
  ): void {
    this.#owner = owner;
    this.#graceMs = graceMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.#timer = setTimeout(() => this.abort(new JobTimeoutError(timeoutMs)), timeoutMs);
    }
    let result: unknown;
    try {
      result = fn(this);
    } catch (error) {
      this.#handlerDone(false, error);
      return;
    }
    if (result !== null && typeof result === "object" && "then" in result) {
      (result as Promise<unknown>).then(this.#fulfilled, this.#rejected);
    } else {
      this.#handlerDone(true, result);
    }
  }

  #fulfilled = (value: unknown): void => this.#handlerDone(true, value);
  #rejected = (error: unknown): void => this.#handlerDone(false, error);

  /**
   * Aborts the attempt with `reason` as its failure: the signal aborts now, the outcome is
   * reported when the handler settles or the grace period ends. Later aborts change nothing.
   */
  abort(reason: Error): void {
    if (!this.#owner || this.#aborted) return;
    this.#aborted = reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
    if (this.#graceMs <= 0) {
      this.#report(false, reason);
      return;
    }
    this.#timer = setTimeout(() => this.#report(false, reason), this.#graceMs);
  }

  #handlerDone(ok: boolean, value: unknown): void {
    const aborted = this.#aborted;
    if (aborted) this.#report(false, aborted);
    else this.#report(ok, value);
  }

  #report(ok: boolean, value: unknown): void {
    const owner = this.#owner;
    if (!owner) return;
    this.#owner = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    owner.attemptDone(this.job, ok, value);
  }
}
