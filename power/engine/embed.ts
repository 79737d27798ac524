/** Sentence embeddings: pooled hidden states, normalized to unit length. */
import { A3sError } from "@a3s/common";
import type { Tokenizer } from "./_tokenizer.ts";
import type { CausalLM, EncoderModel } from "./session.ts";

/** How token states become one vector. */
export type Pooling = "mean" | "cls" | "last";

function pool(data: Float32Array, dims: readonly number[], pooling: Pooling): Float32Array {
  const seq = dims[1];
  const hidden = dims[2];
  const out = new Float32Array(hidden);
  if (pooling === "cls" || pooling === "last") {
    const row = pooling === "cls" ? 0 : seq - 1;
    out.set(data.subarray(row * hidden, (row + 1) * hidden));
  } else {
    for (let t = 0; t < seq; t++) {
      for (let h = 0; h < hidden; h++) out[h] += data[t * hidden + h];
    }
    for (let h = 0; h < hidden; h++) out[h] /= seq;
  }
  let norm = 0;
  for (const v of out) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  for (let h = 0; h < hidden; h++) out[h] /= norm;
  return out;
}

/**
 * Embeds `text` with an encoder (CLS or mean pooling) or with a causal model's
 * `last_hidden_state` (mean pooling), truncating to `maxTokens`.
 *
 * @example
 * ```ts
 * const { vector } = await embedText(model, tokenizer, "hello", { pooling: "mean", maxTokens: 512 });
 * ```
 */
export async function embedText(
  model: CausalLM | EncoderModel,
  tokenizer: Tokenizer,
  text: string,
  options: { pooling: Pooling; maxTokens: number; truncate: boolean; encoder: boolean },
): Promise<{ vector: Float32Array; tokens: number }> {
  let ids = tokenizer.encode(text, { special: "none", addSpecialTokens: options.encoder });
  if (!ids.length) {
    ids = tokenizer.encode(" ", { special: "none", addSpecialTokens: options.encoder });
  }
  if (ids.length > options.maxTokens) {
    if (!options.truncate) {
      throw new A3sError(
        "context_length_exceeded",
        `input is ${ids.length} tokens, which exceeds the model's context of ${options.maxTokens} by ${
          ids.length - options.maxTokens
        }`,
        { status: 400, field: "input" },
      );
    }
    ids = ids.slice(0, options.maxTokens);
  }
  if ("hiddenStates" in model) {
    const { data, dims } = await model.hiddenStates(ids);
    return { vector: pool(data, dims, options.pooling), tokens: ids.length };
  }
  if (!model.hasHiddenOutput) {
    throw new A3sError(
      "embeddings_unsupported",
      "this model does not output hidden states, so it cannot embed",
      {
        status: 400,
        field: "model",
      },
    );
  }
  const { hidden } = await model.forward(ids, model.newCache(), true);
  return { vector: pool(hidden!.data, hidden!.dims, options.pooling), tokens: ids.length };
}
