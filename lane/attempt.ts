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
 * The context of one attempt, also the attempt's control: `cancel()` aborts it. The
 * AbortController is created only when a handler reads `signal` or the attempt is aborted.
 */
export class Attempt<J extends AttemptSubject = AttemptSubject> implements JobContext {
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #owner: AttemptOwner<J> | undefined;

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

  /** Starts `fn`; the owner hears the outcome once. */
  run(fn: JobFunction, timeoutMs: number | undefined, owner: AttemptOwner<J>): void {
    this.#owner = owner;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.#timer = setTimeout(() => this.abort(new JobTimeoutError(timeoutMs)), timeoutMs);
    }
    let result: unknown;
    try {
      result = fn(this);
    } catch (error) {
      this.#settle(false, error);
      return;
    }
    if (result !== null && typeof result === "object" && "then" in result) {
      (result as Promise<unknown>).then(this.#fulfilled, this.#rejected);
    } else {
      this.#settle(true, result);
    }
  }

  #fulfilled = (value: unknown): void => this.#settle(true, value);
  #rejected = (error: unknown): void => this.#settle(false, error);

  /** Aborts the attempt with `reason` as its failure. */
  abort(reason: Error): void {
    if (!this.#owner) return;
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
    this.#settle(false, reason);
  }

  #settle(ok: boolean, value: unknown): void {
    const owner = this.#owner;
    if (!owner) return;
    this.#owner = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    owner.attemptDone(this.job, ok, value);
  }
}
