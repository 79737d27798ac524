/**
 * The ready queue of one lane: FIFO for priority 0 (an array with a moving head) and a binary
 * heap for other priorities and for jobs put back after waiting on a limit. Order is higher
 * priority first, then submission order.
 */

/** What the queue orders by. */
export interface Queued {
  /** Higher runs first. */
  priority: number;
  /** Submission order; lower runs first among equal priorities. */
  seq: number;
}

function before(a: Queued, b: Queued): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/**
 * A priority queue tuned for the common all-FIFO case.
 *
 * @example
 * ```ts
 * import { JobQueue } from "./job_queue.ts";
 * const queue = new JobQueue<{ priority: number; seq: number }>();
 * queue.push({ priority: 0, seq: 1 });
 * queue.push({ priority: 5, seq: 2 });
 * queue.shift()?.seq; // 2
 * ```
 */
export class JobQueue<T extends Queued> {
  #fifo: T[] = [];
  #head = 0;
  #heap: T[] = [];

  /** How many jobs are queued. */
  get size(): number {
    return this.#fifo.length - this.#head + this.#heap.length;
  }

  /** Adds a job at its place. */
  push(job: T): void {
    const fifo = this.#fifo;
    if (job.priority === 0 && (fifo.length === this.#head || fifo[fifo.length - 1].seq < job.seq)) {
      fifo.push(job);
    } else {
      this.#heapPush(job);
    }
  }

  /** The next job without removing it. */
  peek(): T | undefined {
    const head = this.#head < this.#fifo.length ? this.#fifo[this.#head] : undefined;
    const top = this.#heap[0];
    if (top === undefined) return head;
    if (head === undefined) return top;
    return before(top, head) ? top : head;
  }

  /** Removes and returns the next job. */
  shift(): T | undefined {
    const head = this.#head < this.#fifo.length ? this.#fifo[this.#head] : undefined;
    const top = this.#heap[0];
    if (top !== undefined && (head === undefined || before(top, head))) return this.#heapPop();
    if (head === undefined) return undefined;
    // slots before the head are never read again; clearing one lets its job be collected
    this.#fifo[this.#head++] = undefined as unknown as T;
    if (this.#head === this.#fifo.length) {
      this.#fifo.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#fifo.length) {
      this.#fifo = this.#fifo.slice(this.#head);
      this.#head = 0;
    }
    return head;
  }

  /** Removes one job; false when it is not queued here. */
  remove(job: T): boolean {
    const fifo = this.#fifo;
    const at = fifo.indexOf(job, this.#head);
    if (at >= 0) {
      fifo.splice(at, 1);
      return true;
    }
    const index = this.#heap.indexOf(job);
    if (index < 0) return false;
    const last = this.#heap.pop()!;
    if (index < this.#heap.length) {
      this.#heap[index] = last;
      this.#down(index);
      this.#up(index);
    }
    return true;
  }

  #heapPush(job: T): void {
    this.#heap.push(job);
    this.#up(this.#heap.length - 1);
  }

  #heapPop(): T {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  #up(index: number): void {
    const heap = this.#heap;
    const item = heap[index];
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(item, heap[parent])) break;
      heap[index] = heap[parent];
      index = parent;
    }
    heap[index] = item;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const item = heap[index];
    const n = heap.length;
    for (;;) {
      let child = index * 2 + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], item)) break;
      heap[index] = heap[child];
      index = child;
    }
    heap[index] = item;
  }
}
