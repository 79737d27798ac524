/**
 * Models the benchmarks run on: the shipped default and a larger random stand-in exported by
 * `testdata/make_tiny_model.py` in the same layout (built once into a temp dir).
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { loadTokenizer } from "../engine/_tokenizer.ts";
import type { LanguageModel } from "../engine/generate.ts";
import { readModelDir } from "../engine/model_dir.ts";
import { CausalLM } from "../engine/session.ts";
import { renderChat } from "../engine/chat_template.ts";

const DEFAULT_DIR = Deno.env.get("A3S_POWER_DEFAULT_MODEL_DIR") ??
  fileURLToPath(new URL("../model/default", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../testdata/make_tiny_model.py", import.meta.url));
const STAND_IN_ARGS = [
  "--hidden",
  "384",
  "--layers",
  "6",
  "--heads",
  "6",
  "--kv-heads",
  "2",
  "--context",
  "1024",
];

/** A benchmark model: where it lives and its name in reports. */
export interface BenchModel {
  label: string;
  dir: string;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The models available in this run; a SKIPPED line says why one is missing. */
export async function benchModels(): Promise<BenchModel[]> {
  const models: BenchModel[] = [];
  if (await exists(join(DEFAULT_DIR, "onnx", "model.onnx"))) {
    models.push({ label: "default", dir: DEFAULT_DIR });
  } else {
    console.log(`SKIPPED default model: ${DEFAULT_DIR} is not there yet`);
  }
  const standIn = join(Deno.env.get("TMPDIR") ?? "/tmp", "a3s-power-bench-stand-in");
  if (!(await exists(join(standIn, "onnx", "model.onnx")))) {
    try {
      const out = await new Deno.Command("/usr/bin/python3", {
        args: [SCRIPT, standIn, ...STAND_IN_ARGS],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).split("\n").at(-2));
    } catch (error) {
      console.log(`SKIPPED stand-in model: cannot export it (${(error as Error).message})`);
      return models;
    }
  }
  models.push({ label: "stand-in (d=384, 6 layers)", dir: standIn });
  return models;
}

/** power's engine on `dir`, with no stop tokens so every run decodes the same count. */
export async function loadEngine(dir: string): Promise<LanguageModel> {
  const manifest = await readModelDir(dir);
  return {
    lm: await CausalLM.load(manifest),
    tokenizer: await loadTokenizer(dir),
    manifest,
    stopTokens: new Set(),
  };
}

/** The benchmark prompt, rendered with the model's chat template. */
export function benchPrompt(model: LanguageModel): number[] {
  const text = renderChat(model.manifest.chatTemplate, [
    { role: "system", content: "You are a helpful assistant." },
    {
      role: "user",
      content: "Tell me about the history of the printing press in a few sentences.",
    },
  ], {});
  return model.tokenizer.encode(text, { special: "all" });
}

/**
 * The peer we must stay close to: a bare onnxruntime-node greedy loop with a KV cache, no
 * sampling, no detokenizing, nothing but feeds, run and argmax.
 */
export class BareLoop {
  readonly session: ort.InferenceSession;
  #past: string[];
  #kvHeads: number;
  #headDim: number;

  private constructor(session: ort.InferenceSession, config: Record<string, number>) {
    this.session = session;
    this.#past = session.inputNames.filter((n) => n.startsWith("past_key_values."));
    this.#kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
    this.#headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  }

  static async load(dir: string): Promise<BareLoop> {
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    return new BareLoop(await ort.InferenceSession.create(join(dir, "onnx", "model.onnx")), config);
  }

  /** Greedy-decodes `count` tokens after `prompt`; returns them. */
  async run(prompt: readonly number[], count: number): Promise<number[]> {
    return (await this.#decode(prompt, count)).tokens;
  }

  /** {@linkcode BareLoop.run}'s clock: ms to the first token and to the end. */
  async timedRun(
    prompt: readonly number[],
    count: number,
  ): Promise<{ firstMs: number; totalMs: number }> {
    const started = performance.now();
    const { firstAt } = await this.#decode(prompt, count);
    return { firstMs: firstAt - started, totalMs: performance.now() - started };
  }

  async #decode(prompt: readonly number[], count: number) {
    let firstAt = 0;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.#past) {
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), [
        1,
        this.#kvHeads,
        0,
        this.#headDim,
      ]);
    }
    let ids = prompt.map(BigInt);
    let past = 0;
    const out: number[] = [];
    while (out.length < count) {
      const total = past + ids.length;
      feeds.input_ids = new ort.Tensor("int64", BigInt64Array.from(ids), [1, ids.length]);
      feeds.attention_mask = new ort.Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]);
      feeds.position_ids = new ort.Tensor(
        "int64",
        BigInt64Array.from(ids, (_, i) => BigInt(past + i)),
        [1, ids.length],
      );
      const result = await this.session.run(feeds);
      const logits = result.logits.data as Float32Array;
      const vocab = result.logits.dims[2];
      const offset = (ids.length - 1) * vocab;
      let best = 0;
      for (let i = 1; i < vocab; i++) if (logits[offset + i] > logits[offset + best]) best = i;
      out.push(best);
      if (out.length === 1) firstAt = performance.now();
      for (const name of this.#past) {
        feeds[name] = result[name.replace("past_key_values.", "present.")];
      }
      past = total;
      ids = [BigInt(best)];
    }
    return { tokens: out, firstAt };
  }
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** Milliseconds spent inside every `InferenceSession.run` (ours and transformers.js' alike). */
export const insideRuns: { ms: number } = { ms: 0 };

// deno-lint-ignore no-explicit-any
const sessionPrototype = (ort.InferenceSession as any).prototype;
const originalRun = sessionPrototype.run;
sessionPrototype.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
  const started = performance.now();
  try {
    return await originalRun.apply(this, args);
  } finally {
    insideRuns.ms += performance.now() - started;
  }
};
