/**
 * How many publish calls a Redis provider keeps in flight, chosen by measuring the pipeline
 * itself rather than the machine's load average.
 *
 * Two calls in flight let the client resolve one call's publishers and build the next call while
 * the server runs the other; that pays where both can run at once (a quiet machine: +11–13%
 * publish/s) and costs where they cannot (every core busy: an extra call, its wake-ups and an
 * overlap that never happens, −15% to −45%). Where one turns into the other depends on what else
 * the machine runs, its core count and the server's own load, so a fixed rule on the load average
 * had a cliff right where it flipped (+58% behind raw `XADD` at load 2.0 on 2 cores, where the
 * overlap still paid). Instead the tuner runs short epochs of each depth side by side and keeps
 * whichever answered more publishes per second of pipeline time:
 *
 * - A trial is four epochs in the order current, other, other, current (so a load that rises or
 *   falls through the trial reaches both sides alike), then the two rates are compared. The other
 *   depth must win by more than `margin` in two trials in a row (the second right after the
 *   first): on a loaded machine one trial's rates of the same depth move by a factor of two, and
 *   each wrong switch would cost a hold in the slower depth. Then it is kept and the next trial
 *   comes soon.
 * - Between trials the winner runs alone for a hold that doubles each time a trial confirms it (up
 *   to `maxHold` epochs), so a settled choice costs at most two epochs in the other depth out of
 *   `4 + maxHold`, and a change of conditions is found within one hold.
 * - Pipeline time is the time with a call in flight, plus the gaps between the last answer and
 *   the next call that are shorter than `maxGapMs` (the publishers' own work between two calls,
 *   which is what the overlap hides); a longer gap is the application being idle, and counts for
 *   neither depth.
 *
 * Only the depth is chosen here; what a send does with it (split a turn over the free slots,
 * gather publishes while the slots are busy) is the provider's.
 */

/** Options of {@linkcode CallsInFlightTuner}. */
export interface CallsInFlightTunerOptions {
  /** Pipeline time an epoch covers at least, ms (default 40). */
  epochMs?: number;
  /** Answered calls an epoch covers at least (default 6). */
  minCalls?: number;
  /** By how much the other depth must be faster to replace the current one (default 0.04). */
  margin?: number;
  /** Epochs of the winner after a trial that changed it (default 4). */
  minHold?: number;
  /** Most epochs of the winner between two trials (default 64). */
  maxHold?: number;
  /** A gap with nothing in flight longer than this is idle time, not pipeline time (default 50). */
  maxGapMs?: number;
  /** The clock, ms (default `performance.now`). */
  now?: () => number;
  /** Where a previous tuner for the same server left off (see {@linkcode CallsInFlightTuner.state}). */
  start?: TunerState;
  /** Told each trial's outcome: the two rates (publishes per ms) and the depth kept. */
  onDecision?: (decision: TunerDecision) => void;
}

/** One trial's outcome, for a verbose log of what the tuner chose and why. */
export interface TunerDecision {
  /** The depth held before the trial. */
  held: number;
  /** Its publishes per ms of pipeline time in the trial. */
  heldRate: number;
  /** The depth tried against it. */
  tried: number;
  /** Its publishes per ms of pipeline time in the trial. */
  triedRate: number;
  /** The depth that runs next (the trial's own depth again while a challenge is confirmed). */
  winner: number;
  /** Epochs the winner now holds before the next trial (0: a confirming trial follows at once). */
  hold: number;
}

/** What a tuner learned, to seed the next one for the same server. */
export interface TunerState {
  /** The depth that won the last trial. */
  depth: number;
  /** The hold that trial set. */
  hold: number;
  /**
   * Epochs of that hold still to run (0: a trial was due or under way). A new tuner goes on from
   * here rather than holding all of `hold` again: a server's providers that come and go (a bus per
   * request, a restart) then try the other depth as rarely as one long-lived provider would,
   * instead of paying the first epochs of a trial in each. Absent: all of `hold`.
   */
  holdLeft?: number;
}

/** One depth's share of a trial. */
interface Tally {
  events: number;
  ms: number;
}

/** Chooses between one call in flight and `max` by measured publish throughput. */
export class CallsInFlightTuner {
  readonly #max: number;
  readonly #epochMs: number;
  readonly #minCalls: number;
  readonly #margin: number;
  readonly #minHold: number;
  readonly #maxHold: number;
  readonly #maxGapMs: number;
  readonly #now: () => number;
  readonly #onDecision?: (decision: TunerDecision) => void;

  /** The depth that won the last trial (the one held between trials). */
  #winner: number;
  /** The depth in effect for the current epoch. */
  #depth: number;
  /** Epochs of the current hold still to run; 0 while a trial runs. */
  #holdLeft: number;
  #hold: number;
  /** Which of the trial's four epochs runs (0–3). */
  #trialStep = 0;
  /** Whether the last trial found the other depth faster (this one decides). */
  #challenged = false;
  readonly #trial: { winner: Tally; other: Tally } = {
    winner: { events: 0, ms: 0 },
    other: { events: 0, ms: 0 },
  };

  // The current epoch.
  #events = 0;
  #calls = 0;
  #ms = 0;
  /** When pipeline time was last accounted; undefined before the first call. */
  #at: number | undefined;
  /** Whether nothing is in flight since `#at`. */
  #idle = true;

  /** A tuner choosing between 1 and `max` calls in flight (with `max` 1 there is no choice). */
  constructor(max: number, options: CallsInFlightTunerOptions = {}) {
    this.#max = Math.max(1, Math.floor(max));
    this.#epochMs = options.epochMs ?? 40;
    this.#minCalls = options.minCalls ?? 6;
    this.#margin = options.margin ?? 0.04;
    this.#minHold = Math.max(1, options.minHold ?? 4);
    this.#maxHold = options.maxHold ?? 64;
    this.#maxGapMs = options.maxGapMs ?? 50;
    this.#now = options.now ?? (() => performance.now());
    this.#onDecision = options.onDecision;
    const start = options.start;
    if (start && (start.depth === 1 || start.depth === this.#max)) {
      // A settled choice for this server: hold it first, then try the other.
      this.#winner = start.depth;
      this.#hold = Math.min(Math.max(start.hold, this.#minHold), this.#maxHold);
      this.#holdLeft = Math.min(Math.max(0, Math.floor(start.holdLeft ?? this.#hold)), this.#hold);
    } else {
      // Nothing known: overlap first (it wins wherever a core is spare), and try both at once.
      this.#winner = this.#max;
      this.#hold = this.#minHold;
      this.#holdLeft = 0;
    }
    this.#depth = this.#winner;
  }

  /** Calls that may be in flight now. */
  get depth(): number {
    return this.#depth;
  }

  /** What this tuner learned (for the next one on the same server). */
  get state(): TunerState {
    return { depth: this.#winner, hold: this.#hold, holdLeft: this.#holdLeft };
  }

  /** A call was sent. */
  sent(): void {
    this.#account(this.#now());
    this.#idle = false;
  }

  /** A call carrying `events` publishes was answered; `idle`: none is in flight now. */
  answered(events: number, idle: boolean): void {
    this.#account(this.#now());
    this.#idle = idle;
    this.#events += events;
    this.#calls++;
    if (this.#ms >= this.#epochMs && this.#calls >= this.#minCalls) this.#endEpoch();
  }

  #account(now: number): void {
    if (this.#at !== undefined) {
      const elapsed = now - this.#at;
      if (!this.#idle || elapsed <= this.#maxGapMs) this.#ms += elapsed;
    }
    this.#at = now;
  }

  #endEpoch(): void {
    if (this.#max > 1) {
      if (this.#holdLeft > 0) {
        this.#holdLeft--;
        if (this.#holdLeft === 0) this.#startTrial();
      } else {
        const tally = this.#depth === this.#winner ? this.#trial.winner : this.#trial.other;
        tally.events += this.#events;
        tally.ms += this.#ms;
        this.#trialStep++;
        if (this.#trialStep === 4) this.#decide();
        else this.#depth = this.#trialStep === 3 ? this.#winner : this.#otherDepth();
      }
    }
    this.#events = 0;
    this.#calls = 0;
    this.#ms = 0;
  }

  #otherDepth(): number {
    return this.#winner === 1 ? this.#max : 1;
  }

  #startTrial(): void {
    this.#trialStep = 0;
    this.#trial.winner.events = this.#trial.winner.ms = 0;
    this.#trial.other.events = this.#trial.other.ms = 0;
    this.#depth = this.#winner;
  }

  #decide(): void {
    const rate = (t: Tally) => t.ms > 0 ? t.events / t.ms : 0;
    const held = this.#winner;
    const heldRate = rate(this.#trial.winner);
    const triedRate = rate(this.#trial.other);
    const tried = this.#otherDepth();
    const otherFaster = triedRate > heldRate * (1 + this.#margin);
    if (otherFaster && !this.#challenged) {
      // Once could be the machine's noise: try again at once.
      this.#challenged = true;
      this.#onDecision?.({ held, heldRate, tried, triedRate, winner: held, hold: 0 });
      this.#startTrial();
      return;
    }
    this.#challenged = false;
    if (otherFaster) {
      this.#winner = this.#otherDepth();
      this.#hold = this.#minHold;
    } else {
      this.#hold = Math.min(this.#hold * 2, this.#maxHold);
    }
    this.#depth = this.#winner;
    this.#holdLeft = this.#hold;
    this.#onDecision?.({
      held,
      heldRate,
      tried,
      triedRate,
      winner: this.#winner,
      hold: this.#hold,
    });
  }
}
