/**
 * Decode-step batching: concurrent generations on one model share each ONNX Runtime call.
 * Their KV caches are left-padded to the longest, the padding masked out, and the outputs
 * split back per sequence, so each sequence sees exactly what it would alone.
 */
import * as ort from "onnxruntime-node";
import { setImmediate } from "node:timers";
import type { CausalLM, KvCache } from "./session.ts";

interface PendingStep {
  token: number;
  cache: KvCache;
  resolve: (logits: Float32Array) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the single-token decode steps that arrive together and runs them as one batch.
 *
 * @example
 * ```ts
 * const batcher = new StepBatcher(lm, 8);
 * const logits = await batcher.step(token, cache);
 * ```
 */
export class StepBatcher {
  readonly lm: CausalLM;
  readonly maxBatch: number;
  #pending: PendingStep[] = [];
  #scheduled = false;
  #running = false;
  #active = 0;

  constructor(lm: CausalLM, maxBatch = 8) {
    this.lm = lm;
    this.maxBatch = maxBatch;
  }

  /** A generation starts using the batcher; steps wait for it only while it is active. */
  enter(): void {
    this.#active++;
  }

  /** A generation is done with the batcher. */
  leave(): void {
    this.#active--;
    this.#maybeFlush();
  }

  /** Runs `token` after `cache` (updating it) alongside whatever else is waiting. */
  step(token: number, cache: KvCache): Promise<Float32Array> {
    const { promise, resolve, reject } = Promise.withResolvers<Float32Array>();
    this.#pending.push({ token, cache, resolve, reject });
    this.#maybeFlush();
    return promise;
  }

  #maybeFlush(): void {
    if (this.#running || !this.#pending.length) return;
    if (this.#pending.length >= Math.min(this.#active, this.maxBatch)) {
      // Everyone decoding is waiting: no reason to wait longer.
      void this.#flush();
    } else if (!this.#scheduled) {
      // Others are still sampling or in their prefill; give them one turn of the loop.
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.#flush();
      });
    }
  }

  async #flush(): Promise<void> {
    if (this.#running || !this.#pending.length) return;
    this.#running = true;
    const batch = this.#pending.splice(0, this.maxBatch);
    try {
      const logits = batch.length === 1
        ? [(await this.lm.forward([batch[0].token], batch[0].cache)).logits]
        : await forwardBatch(this.lm, batch);
      batch.forEach((step, i) => step.resolve(logits[i]));
    } catch (error) {
      for (const step of batch) step.reject(error);
    } finally {
      this.#running = false;
    }
    this.#maybeFlush();
  }
}

async function forwardBatch(lm: CausalLM, steps: PendingStep[]): Promise<Float32Array[]> {
  const size = steps.length;
  const heads = lm.kvHeads;
  const dim = lm.headDim;
  const lengths = steps.map((s) => s.cache.length);
  const longest = Math.max(...lengths);
  const total = longest + 1;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(steps, (s) => BigInt(s.token)), [
      size,
      1,
    ]),
  };
  const mask = new BigInt64Array(size * total);
  for (let b = 0; b < size; b++) mask.fill(1n, b * total + (longest - lengths[b]), (b + 1) * total);
  feeds.attention_mask = new ort.Tensor("int64", mask, [size, total]);
  if (lm.session.inputNames.includes("position_ids")) {
    feeds.position_ids = new ort.Tensor("int64", BigInt64Array.from(lengths, BigInt), [size, 1]);
  }
  for (const name of lm.pastNames) {
    const padded = new Float32Array(size * heads * longest * dim);
    for (let b = 0; b < size; b++) {
      const src = steps[b].cache.past[name].data as Float32Array;
      const length = lengths[b];
      for (let h = 0; h < heads; h++) {
        padded.set(
          src.subarray(h * length * dim, (h + 1) * length * dim),
          ((b * heads + h) * longest + (longest - length)) * dim,
        );
      }
    }
    feeds[name] = new ort.Tensor("float32", padded, [size, heads, longest, dim]);
  }
  const out = await lm.session.run(feeds, ["logits", ...lm.presentNames]);
  for (let i = 0; i < lm.pastNames.length; i++) {
    const present = out[lm.presentNames[i]].data as Float32Array;
    for (let b = 0; b < size; b++) {
      const length = lengths[b] + 1;
      const own = new Float32Array(heads * length * dim);
      for (let h = 0; h < heads; h++) {
        const from = ((b * heads + h) * total + (total - length)) * dim;
        own.set(present.subarray(from, from + length * dim), h * length * dim);
      }
      steps[b].cache.past[lm.pastNames[i]] = new ort.Tensor("float32", own, [
        1,
        heads,
        length,
        dim,
      ]);
    }
  }
  const logits = out.logits.data as Float32Array;
  const vocab = out.logits.dims[out.logits.dims.length - 1];
  return steps.map((step, b) => {
    step.cache.length = lengths[b] + 1;
    return logits.subarray(b * vocab, (b + 1) * vocab);
  });
}
