/** The handle of a stored job: its result and progress come from whichever process runs it. */
import type { JobHandle } from "./lane.ts";
import type { LaneListener } from "./events.ts";

/** What a handle asks of the durable scheduler. */
export interface DurableHandleOwner {
  waitFor(id: string): Promise<unknown>;
  progressOf(id: string): unknown;
  subscribe(listener: LaneListener): () => void;
  cancel(id: string): Promise<boolean>;
}

/** A {@linkcode JobHandle} over a job id in the store. */
export class DurableHandle implements JobHandle {
  #progress: unknown = null;

  constructor(readonly owner: DurableHandleOwner, readonly id: string) {}

  get result(): Promise<unknown> {
    return this.owner.waitFor(this.id);
  }

  get progress(): unknown {
    const latest = this.owner.progressOf(this.id);
    if (latest !== undefined) this.#progress = latest;
    return this.#progress;
  }

  onProgress(listener: (value: unknown) => void): () => void {
    return this.owner.subscribe((event) => {
      if (event.type === "progress" && event.jobId === this.id) {
        this.#progress = event.progress;
        listener(event.progress);
      }
    });
  }

  cancel(): Promise<boolean> {
    return this.owner.cancel(this.id);
  }
}
