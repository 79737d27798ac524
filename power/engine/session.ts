/** ONNX Runtime sessions for decoder-only LMs (with a KV cache) and encoder embedding models. */
import * as ort from "onnxruntime-node";
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import type { ModelManifest } from "./model_dir.ts";

/** The KV cache of one sequence: the `present.*` tensors of the last step. */
export interface KvCache {
  past: Record<string, ort.Tensor>;
  /** Tokens already in the cache. */
  length: number;
}

/** The last position's logits and, when asked for, the hidden states of every position. */
export interface ForwardResult {
  logits: Float32Array;
  hidden?: { data: Float32Array; dims: readonly number[] };
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.data instanceof Float32Array) return tensor.data;
  if (tensor.type === "float16") {
    const src = tensor.data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const h = src[i];
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      out[i] = exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
        ? (frac ? NaN : sign * Infinity)
        : sign * 2 ** (exp - 15) * (1 + frac / 1024);
    }
    return out;
  }
  return Float32Array.from(tensor.data as ArrayLike<number>);
}

function int64(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor("int64", data, dims);
}

function sessionOptions(): ort.InferenceSession.SessionOptions {
  const threads = Number(Deno.env.get("A3S_POWER_THREADS") ?? 0);
  return {
    graphOptimizationLevel: "all",
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  };
}

async function createSession(manifest: ModelManifest): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(
      join(manifest.dir, manifest.onnxFile),
      sessionOptions(),
    );
  } catch (error) {
    throw new A3sError(
      "invalid_model",
      `cannot load ${manifest.onnxFile}: ${(error as Error).message}`,
      {
        status: 400,
        cause: error,
      },
    );
  }
}

/**
 * A decoder-only language model: `input_ids`, `attention_mask`, `position_ids` and
 * `past_key_values.N.key/value` in, `logits` and `present.N.key/value` out.
 *
 * @example
 * ```ts
 * const lm = await CausalLM.load(await readModelDir("power/testdata/tiny"));
 * const cache = lm.newCache();
 * const { logits } = await lm.forward([1, 2, 3], cache);
 * ```
 */
export class CausalLM {
  readonly session: ort.InferenceSession;
  readonly manifest: ModelManifest;
  readonly pastNames: string[];
  readonly presentNames: string[];
  readonly kvHeads: number;
  readonly headDim: number;
  readonly kvType: "float32" | "float16";
  readonly hasHiddenOutput: boolean;
  readonly vocabSize: number;
  #inputs: Set<string>;

  private constructor(session: ort.InferenceSession, manifest: ModelManifest) {
    this.session = session;
    this.manifest = manifest;
    this.#inputs = new Set(session.inputNames);
    this.pastNames = session.inputNames.filter((n) => n.startsWith("past_key_values."));
    this.presentNames = this.pastNames.map((n) => n.replace("past_key_values.", "present."));
    const c = (manifest.config.text_config ?? manifest.config) as Record<string, number>;
    const heads = c.num_attention_heads ?? c.n_head ?? 1;
    this.kvHeads = c.num_key_value_heads ?? heads;
    this.headDim = c.head_dim ?? Math.floor((c.hidden_size ?? c.n_embd ?? 0) / heads);
    this.vocabSize = c.vocab_size ?? 0;
    const meta = (session as unknown as { inputMetadata?: { name: string; type?: string }[] })
      .inputMetadata;
    const pastMeta = Array.isArray(meta)
      ? meta.find((m) => m.name === this.pastNames[0])
      : undefined;
    this.kvType = pastMeta?.type === "float16" || /fp16|f16/.test(manifest.onnxFile)
      ? "float16"
      : "float32";
    this.hasHiddenOutput = session.outputNames.includes("last_hidden_state");
    for (const name of ["input_ids", "attention_mask"]) {
      if (!this.#inputs.has(name)) {
        throw new A3sError("invalid_model", `${manifest.onnxFile} has no '${name}' input`, {
          status: 400,
        });
      }
    }
  }

  /** Loads `manifest`'s ONNX file into a session. */
  static async load(manifest: ModelManifest): Promise<CausalLM> {
    return new CausalLM(await createSession(manifest), manifest);
  }

  /** An empty cache for a new sequence. */
  newCache(): KvCache {
    const past: Record<string, ort.Tensor> = {};
    for (const name of this.pastNames) {
      const empty = this.kvType === "float16" ? new Uint16Array(0) : new Float32Array(0);
      past[name] = new ort.Tensor(this.kvType, empty, [1, this.kvHeads, 0, this.headDim]);
    }
    return { past, length: 0 };
  }

  /**
   * Runs `ids` after what `cache` already holds, updates the cache in place, and returns the
   * logits of the last position (and every position's hidden state if `withHidden`).
   */
  async forward(
    ids: readonly number[],
    cache: KvCache,
    withHidden = false,
  ): Promise<ForwardResult> {
    const total = cache.length + ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(ids, [1, ids.length]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
      ...cache.past,
    };
    if (this.#inputs.has("position_ids")) {
      feeds.position_ids = int64(ids.map((_, i) => cache.length + i), [1, ids.length]);
    }
    if (this.#inputs.has("use_cache_branch")) {
      feeds.use_cache_branch = new ort.Tensor("bool", [cache.length > 0], [1]);
    }
    const fetches = ["logits", ...this.presentNames];
    if (withHidden && this.hasHiddenOutput) fetches.push("last_hidden_state");
    const out = await this.session.run(feeds, fetches);
    for (let i = 0; i < this.pastNames.length; i++) {
      cache.past[this.pastNames[i]] = out[this.presentNames[i]];
    }
    cache.length = total;
    const logitsTensor = out.logits;
    const vocab = logitsTensor.dims[logitsTensor.dims.length - 1];
    const rows = logitsTensor.dims[1];
    const all = toFloat32(logitsTensor);
    // A view, not a copy: the output buffer is ours, and the sampler may edit it in place.
    const logits = all.subarray((rows - 1) * vocab, rows * vocab);
    const hiddenTensor = out.last_hidden_state;
    return {
      logits,
      hidden: hiddenTensor ? { data: toFloat32(hiddenTensor), dims: hiddenTensor.dims } : undefined,
    };
  }

  /** Releases the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * A BERT-like encoder: `input_ids`, `attention_mask` (and `token_type_ids`) in,
 * `last_hidden_state` (or `sentence_embedding`) out.
 */
export class EncoderModel {
  readonly session: ort.InferenceSession;
  readonly manifest: ModelManifest;
  #inputs: Set<string>;

  private constructor(session: ort.InferenceSession, manifest: ModelManifest) {
    this.session = session;
    this.manifest = manifest;
    this.#inputs = new Set(session.inputNames);
  }

  /** Loads `manifest`'s ONNX file into a session. */
  static async load(manifest: ModelManifest): Promise<EncoderModel> {
    return new EncoderModel(await createSession(manifest), manifest);
  }

  /** Hidden states of every position, shape `[1, ids.length, hidden]`. */
  async hiddenStates(
    ids: readonly number[],
  ): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(ids, [1, ids.length]),
    };
    if (this.#inputs.has("attention_mask")) {
      feeds.attention_mask = int64(new Array(ids.length).fill(1), [1, ids.length]);
    }
    if (this.#inputs.has("token_type_ids")) {
      feeds.token_type_ids = int64(new Array(ids.length).fill(0), [1, ids.length]);
    }
    const out = await this.session.run(feeds);
    const tensor = out.last_hidden_state ?? out.token_embeddings ??
      out[this.session.outputNames[0]];
    return { data: toFloat32(tensor), dims: tensor.dims };
  }

  /** Releases the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
