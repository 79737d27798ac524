/**
 * The durable scheduler's timer: one tick at a time, a kick asking for the next tick sooner,
 * and after each tick the next one as soon as there is work, else a poll interval later.
 */

/** What the loop asks of its owner. */
export interface WorkLoopOwner {
  /** One round of work. */
  tick(): Promise<void>;
  /** The delay before the next tick once one ends, or undefined for none. */
  nextDelay(): number | undefined;
}

/** Drives {@linkcode WorkLoopOwner.tick}; see the module doc. */
export class WorkLoop {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(readonly owner: WorkLoopOwner) {}

  /** True while a tick runs. */
  get ticking(): boolean {
    return this.#ticking !== undefined;
  }

  /** Asks for a tick within `ms`; during a tick, for another right after it. */
  kick(ms: number): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    const at = performance.now() + ms;
    if (this.#timer !== undefined) {
      if (at >= this.#timerAt) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#run(), ms);
  }

  /** Asks, from inside a tick, for another right after it. */
  again(): void {
    this.#again = true;
  }

  /** Resolves once no tick runs. */
  async idle(): Promise<void> {
    if (this.#ticking) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Schedules no more ticks; one running finishes. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#ticking = this.owner.tick().finally(() => {
      this.#ticking = undefined;
      const again = this.#again;
      this.#again = false;
      for (const wake of this.#idle.splice(0)) wake();
      if (this.#stopped) return;
      const delay = again ? 0 : this.owner.nextDelay();
      if (delay !== undefined) this.kick(delay);
    });
  }
}
