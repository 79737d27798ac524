/** Reads a model directory in the Hugging Face ONNX layout. */
import { join } from "node:path";
import { A3sError } from "@a3s/common";

/** What power needs from `config.json`, `generation_config.json` and `tokenizer_config.json`. */
export interface ModelManifest {
  /** The model directory. */
  dir: string;
  /** `model_type` from config.json, such as `llama`, `qwen2`, `gemma` or `bert`. */
  modelType: string;
  /** `causal` generates text; `encoder` only embeds. */
  kind: "causal" | "encoder";
  /** config.json as read. */
  config: Record<string, unknown>;
  /** generation_config.json as read (empty when absent). */
  generation: Record<string, unknown>;
  /** tokenizer_config.json as read (empty when absent). */
  tokenizerConfig: Record<string, unknown>;
  /** The Jinja chat template, from tokenizer_config.json or chat_template.jinja. */
  chatTemplate?: string;
  /** The ONNX file picked, relative to `dir`. */
  onnxFile: string;
  /** Every ONNX variant the directory holds. */
  onnxFiles: string[];
  /** Tokens of context the model was trained for. */
  contextLength: number;
  /** Token ids that end a generation. */
  eosTokenIds: number[];
  /** Bytes on disk of the ONNX weights, used for the memory budget. */
  weightBytes: number;
}

/** The context assumed when a model's config names none. */
const FALLBACK_CONTEXT = 2048;

const ENCODER_TYPES = new Set([
  "bert",
  "roberta",
  "xlm-roberta",
  "distilbert",
  "mpnet",
  "nomic_bert",
  "modernbert",
  "electra",
]);

/** A model file's JSON object; a model from elsewhere may hold anything, so it is checked. */
async function readJson(path: string, required: boolean): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (!required && error instanceof Deno.errors.NotFound) return {};
    throw new A3sError("invalid_model", `cannot read ${path}: ${(error as Error).message}`, {
      status: 400,
      cause: error,
    });
  }
  const object = objectOr(value);
  if (!object) throw new A3sError("invalid_model", `${path} is not a JSON object`, { status: 400 });
  return object;
}

/** The object at `value`, or undefined when it is something else. */
function objectOr(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

/** Preference order when a directory holds several variants; fp32 first for accuracy. */
const VARIANT_ORDER = [
  "model.onnx",
  "model_fp16.onnx",
  "model_quantized.onnx",
  "model_int8.onnx",
  "model_uint8.onnx",
  "model_q4.onnx",
  "model_q4f16.onnx",
  "model_bnb4.onnx",
];

function pickVariant(files: string[], wanted?: string): string {
  if (wanted) {
    const hit = files.find((f) => f === wanted || f === `model_${wanted}.onnx`);
    if (!hit) {
      throw new A3sError("invalid_model", `no ONNX variant '${wanted}' among ${files.join(", ")}`, {
        status: 400,
        field: "variant",
      });
    }
    return hit;
  }
  for (const name of VARIANT_ORDER) if (files.includes(name)) return name;
  return files.sort()[0];
}

function ids(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number");
  return [];
}

/**
 * Reads the manifest of the model in `dir`, picking an ONNX variant (fp32 unless `variant`
 * names another, such as `q4` or `fp16`).
 *
 * @example
 * ```ts
 * const manifest = await readModelDir("power/testdata/tiny");
 * console.log(manifest.modelType, manifest.onnxFile);
 * ```
 */
export async function readModelDir(dir: string, variant?: string): Promise<ModelManifest> {
  const config = await readJson(join(dir, "config.json"), true);
  const generation = await readJson(join(dir, "generation_config.json"), false);
  const tokenizerConfig = await readJson(join(dir, "tokenizer_config.json"), false);
  const onnxDir = join(dir, "onnx");
  const onnxFiles: string[] = [];
  try {
    for await (const entry of Deno.readDir(onnxDir)) {
      if (entry.isFile && entry.name.endsWith(".onnx")) onnxFiles.push(entry.name);
    }
  } catch {
    // Reported below as a missing model file.
  }
  if (!onnxFiles.length) {
    throw new A3sError("invalid_model", `${dir} has no onnx/model*.onnx`, { status: 400 });
  }
  const chosen = pickVariant(onnxFiles, variant);
  let weightBytes = (await Deno.stat(join(onnxDir, chosen))).size;
  for (const extra of [`${chosen}_data`, `${chosen}.data`]) {
    try {
      weightBytes += (await Deno.stat(join(onnxDir, extra))).size;
    } catch {
      // No external data file.
    }
  }
  const modelType = String(config.model_type ?? "unknown");
  const textConfig = objectOr(config.text_config) ?? config;
  const contextLength = Number(
    textConfig.max_position_embeddings ?? textConfig.n_positions ?? textConfig.n_ctx ??
      tokenizerConfig.model_max_length ?? FALLBACK_CONTEXT,
  );
  let chatTemplate = tokenizerConfig.chat_template as unknown;
  if (Array.isArray(chatTemplate)) {
    const named = chatTemplate.map(objectOr).filter((t) => t !== undefined);
    chatTemplate = (named.find((t) => t.name === "default") ?? named[0])?.template;
  }
  if (typeof chatTemplate !== "string") {
    try {
      chatTemplate = await Deno.readTextFile(join(dir, "chat_template.jinja"));
    } catch {
      chatTemplate = undefined;
    }
  }
  const eos = [...new Set([...ids(generation.eos_token_id), ...ids(config.eos_token_id)])];
  return {
    dir,
    modelType,
    kind: ENCODER_TYPES.has(modelType) ? "encoder" : "causal",
    config,
    generation,
    tokenizerConfig,
    chatTemplate: chatTemplate as string | undefined,
    onnxFile: join("onnx", chosen),
    onnxFiles: onnxFiles.sort(),
    contextLength: Number.isFinite(contextLength) && contextLength > 0
      ? contextLength
      : FALLBACK_CONTEXT,
    eosTokenIds: eos,
    weightBytes,
  };
}
