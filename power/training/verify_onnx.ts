/**
 * Checks an exported model under onnxruntime-node against the torch outputs export.py saved:
 * the prompt pass (empty past), one cached decode step, and the same step recomputed without the
 * cache. Exits non-zero when any logit differs by more than the tolerance.
 *
 * deno run -A power/training/verify_onnx.ts power/model/default power/training/build/reference.json
 */
import * as ort from "onnxruntime-node";

interface Reference {
  prompt: number[];
  prompt_logits_last: number[];
  prompt_hidden_last: number[];
  next_id: number;
  step_logits: number[];
  uncached_step_logits: number[];
}

interface ModelConfig {
  num_hidden_layers: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  hidden_size: number;
}

const TOLERANCE = 1e-3;

function int64(values: number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
}

function lastRow(tensor: ort.Tensor, width: number): number[] {
  const data = tensor.data as Float32Array;
  return Array.from(data.subarray(data.length - width));
}

function maxDifference(actual: number[], expected: number[]): number {
  return actual.reduce((worst, value, i) => Math.max(worst, Math.abs(value - expected[i])), 0);
}

function emptyPast(config: ModelConfig): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const dims = [1, config.num_key_value_heads, 0, config.head_dim];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), dims);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), dims);
  }
  return feeds;
}

async function run(modelDir: string, referencePath: string): Promise<number> {
  const config: ModelConfig = JSON.parse(await Deno.readTextFile(`${modelDir}/config.json`));
  const reference: Reference = JSON.parse(await Deno.readTextFile(referencePath));
  const session = await ort.InferenceSession.create(`${modelDir}/onnx/model.onnx`);
  const prompt = reference.prompt;
  const first = await session.run({
    input_ids: int64(prompt),
    attention_mask: int64(prompt.map(() => 1)),
    position_ids: int64(prompt.map((_, i) => i)),
    ...emptyPast(config),
  });
  const past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < config.num_hidden_layers; i++) {
    past[`past_key_values.${i}.key`] = first[`present.${i}.key`];
    past[`past_key_values.${i}.value`] = first[`present.${i}.value`];
  }
  const step = await session.run({
    input_ids: int64([reference.next_id]),
    attention_mask: int64([...prompt, reference.next_id].map(() => 1)),
    position_ids: int64([prompt.length]),
    ...past,
  });
  const full = [...prompt, reference.next_id];
  const uncached = await session.run({
    input_ids: int64(full),
    attention_mask: int64(full.map(() => 1)),
    position_ids: int64(full.map((_, i) => i)),
    ...emptyPast(config),
  });
  const checks: [string, number][] = [
    [
      "prompt logits",
      maxDifference(lastRow(first.logits, config.vocab_size), reference.prompt_logits_last),
    ],
    [
      "prompt hidden state",
      maxDifference(
        lastRow(first.last_hidden_state, config.hidden_size),
        reference.prompt_hidden_last,
      ),
    ],
    [
      "cached step logits",
      maxDifference(lastRow(step.logits, config.vocab_size), reference.step_logits),
    ],
    [
      "uncached step logits",
      maxDifference(lastRow(uncached.logits, config.vocab_size), reference.uncached_step_logits),
    ],
    [
      "cached vs uncached",
      maxDifference(
        lastRow(step.logits, config.vocab_size),
        lastRow(uncached.logits, config.vocab_size),
      ),
    ],
  ];
  let failed = 0;
  for (const [name, difference] of checks) {
    const ok = difference <= TOLERANCE;
    if (!ok) failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${name}: max |difference| ${difference.toExponential(2)}`);
  }
  const presentShape = first["present.0.key"].dims.join("x");
  console.log(`present.0.key after the prompt: ${presentShape}`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  const [modelDir, referencePath] = Deno.args;
  if (!modelDir || !referencePath) {
    console.error("usage: verify_onnx.ts MODEL_DIR REFERENCE_JSON");
    Deno.exit(2);
  }
  Deno.exit(await run(modelDir, referencePath));
}
