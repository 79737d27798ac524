/** Token sampling over raw logits: penalties, temperature, top-k/top-p/min-p, seeded draws. */

/** Sampling settings; every field is optional and defaults to Ollama's defaults. */
export interface SamplingOptions {
  /** 0 picks the most likely token every time. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens; 0 keeps all. */
  topK?: number;
  /** Keep the most likely tokens whose probabilities add up to `topP`. */
  topP?: number;
  /** Drop tokens less likely than `minP` times the most likely one. */
  minP?: number;
  /** Multiplicative penalty on tokens seen in the last `repeatLastN` tokens; 1 disables it. */
  repeatPenalty?: number;
  /** How many recent tokens the penalties look at; -1 means the whole context. */
  repeatLastN?: number;
  /** Subtracted from the logit of every token already seen. */
  presencePenalty?: number;
  /** Subtracted from a token's logit once per time it was seen. */
  frequencyPenalty?: number;
  /** Same seed and input give the same output. */
  seed?: number;
}

/** One candidate with its log-probability. */
export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** The outcome of one draw. */
export interface SampledToken extends TokenLogprob {
  /** The most likely alternatives, when asked for. */
  top?: TokenLogprob[];
}

/** mulberry32: small, fast and good enough to make seeded sampling reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return max;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** Indices of the `k` largest values, largest first (partial selection, no full sort). */
function topIndices(values: Float32Array, k: number, floor = -Infinity): number[] {
  const out: number[] = [];
  let minIndex = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === -Infinity || v < floor) continue;
    if (out.length < k) {
      out.push(i);
      if (out.length === k) {
        minIndex = 0;
        for (let j = 1; j < k; j++) if (values[out[j]] < values[out[minIndex]]) minIndex = j;
      }
    } else if (v > values[out[minIndex]]) {
      out[minIndex] = i;
      minIndex = 0;
      for (let j = 1; j < k; j++) if (values[out[j]] < values[out[minIndex]]) minIndex = j;
    }
  }
  return out.sort((a, b) => values[b] - values[a]);
}

/**
 * Draws tokens for one generation. Penalties are applied with {@linkcode Sampler.prepare};
 * {@linkcode Sampler.pick} then draws, optionally restricted to an allowed-token mask.
 *
 * @example
 * ```ts
 * const sampler = new Sampler({ temperature: 0 });
 * const logits = Float32Array.of(0.1, 2, 0.3);
 * sampler.prepare(logits, []);
 * console.log(sampler.pick(logits).token); // 1
 * ```
 */
export class Sampler {
  readonly options: Required<SamplingOptions>;
  #random: () => number;

  constructor(options: SamplingOptions = {}) {
    this.options = {
      temperature: options.temperature ?? 0.8,
      topK: options.topK ?? 40,
      topP: options.topP ?? 0.9,
      minP: options.minP ?? 0,
      repeatPenalty: options.repeatPenalty ?? 1.1,
      repeatLastN: options.repeatLastN ?? 64,
      presencePenalty: options.presencePenalty ?? 0,
      frequencyPenalty: options.frequencyPenalty ?? 0,
      seed: options.seed ?? Math.floor(Math.random() * 2 ** 31),
    };
    this.#random = seededRandom(this.options.seed);
  }

  /** Applies repeat, presence and frequency penalties for `history` to `logits` in place. */
  prepare(logits: Float32Array, history: readonly number[]): void {
    const { repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty } = this.options;
    if (repeatPenalty === 1 && presencePenalty === 0 && frequencyPenalty === 0) return;
    const window = repeatLastN < 0 ? history.length : Math.min(repeatLastN, history.length);
    if (window === 0) return;
    const counts = new Map<number, number>();
    for (let i = history.length - window; i < history.length; i++) {
      counts.set(history[i], (counts.get(history[i]) ?? 0) + 1);
    }
    for (const [token, count] of counts) {
      let v = logits[token];
      if (v === undefined) continue;
      if (repeatPenalty !== 1) v = v > 0 ? v / repeatPenalty : v * repeatPenalty;
      v -= presencePenalty + frequencyPenalty * count;
      logits[token] = v;
    }
  }

  /**
   * Draws one token. `allowed`, when given, masks out every token whose entry is 0;
   * `topLogprobs` asks for that many alternatives with their log-probabilities, and
   * `withLogprob` false leaves the chosen token's log-probability out (NaN).
   */
  pick(
    logits: Float32Array,
    allowed?: Uint8Array,
    topLogprobs = 0,
    withLogprob = true,
  ): SampledToken {
    if (allowed) {
      for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
    }
    const { temperature, topK, topP, minP } = this.options;
    let token: number;
    if (temperature <= 0) {
      token = 0;
      let best = -Infinity;
      for (let i = 0; i < logits.length; i++) {
        if (logits[i] > best) {
          best = logits[i];
          token = i;
        }
      }
    } else {
      token = this.#draw(logits, temperature, topK, topP, minP);
    }
    // The normalizer costs a pass of exp over the vocabulary; skip it when nobody reads it.
    if (!withLogprob && topLogprobs === 0) return { token, logprob: NaN };
    const lse = logSumExp(logits);
    const result: SampledToken = { token, logprob: logits[token] - lse };
    if (topLogprobs > 0) {
      result.top = topIndices(logits, topLogprobs).map((t) => ({
        token: t,
        logprob: logits[t] - lse,
      }));
    }
    return result;
  }

  #draw(logits: Float32Array, temperature: number, topK: number, topP: number, minP: number) {
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    // Tokens more than 30 nats (after temperature) below the best carry no probability mass.
    const floor = max - 30 * temperature;
    const k = topK > 0 ? topK : logits.length;
    const candidates = topIndices(logits, k, floor);
    const probs = candidates.map((i) => Math.exp((logits[i] - max) / temperature));
    let total = probs.reduce((a, b) => a + b, 0);
    let keep = candidates.length;
    if (minP > 0) {
      const threshold = minP * probs[0];
      while (keep > 1 && probs[keep - 1] < threshold) keep--;
    }
    if (topP < 1) {
      let cumulative = 0;
      total = probs.slice(0, keep).reduce((a, b) => a + b, 0);
      for (let i = 0; i < keep; i++) {
        cumulative += probs[i] / total;
        if (cumulative >= topP) {
          keep = i + 1;
          break;
        }
      }
    }
    total = 0;
    for (let i = 0; i < keep; i++) total += probs[i];
    let r = this.#random() * total;
    for (let i = 0; i < keep; i++) {
      r -= probs[i];
      if (r <= 0) return candidates[i];
    }
    return candidates[keep - 1];
  }
}
