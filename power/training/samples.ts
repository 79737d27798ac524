/**
 * Prints greedy samples from an exported model with a bare onnxruntime-node loop: a plain
 * English prompt, a chat turn, and a chat turn with tools (which should produce a tool call).
 * The model card quotes this output.
 *
 * deno run -A power/training/samples.ts power/model/default
 */
import * as ort from "onnxruntime-node";
import { loadTokenizer } from "@a3s/wasm/tokenizer";
import { Template } from "@huggingface/jinja";

/** The config.json fields the decoding loop needs. */
export interface ModelConfig {
  num_hidden_layers: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
}

function int64(values: number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
}

/** Greedy decoding with the KV cache, with an optional CTRL-style repetition penalty. */
export async function greedy(
  session: ort.InferenceSession,
  config: ModelConfig,
  prompt: number[],
  stopIds: Set<number>,
  maxTokens: number,
  repetitionPenalty = 1,
): Promise<number[]> {
  const feeds: Record<string, ort.Tensor> = {};
  const empty = [1, config.num_key_value_heads, 0, config.head_dim];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), empty);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), empty);
  }
  const generated: number[] = [];
  let input = prompt;
  let position = 0;
  for (let step = 0; step < maxTokens; step++) {
    const out = await session.run({
      ...feeds,
      input_ids: int64(input),
      attention_mask: int64(new Array(position + input.length).fill(1)),
      position_ids: int64(input.map((_, i) => position + i)),
    });
    const logits = out.logits.data as Float32Array;
    const last = logits.slice(logits.length - config.vocab_size);
    if (repetitionPenalty !== 1) {
      for (const id of new Set([...prompt, ...generated])) {
        last[id] = last[id] > 0 ? last[id] / repetitionPenalty : last[id] * repetitionPenalty;
      }
    }
    let best = 0;
    for (let i = 1; i < last.length; i++) if (last[i] > last[best]) best = i;
    for (let i = 0; i < config.num_hidden_layers; i++) {
      feeds[`past_key_values.${i}.key`] = out[`present.${i}.key`];
      feeds[`past_key_values.${i}.value`] = out[`present.${i}.value`];
    }
    position += input.length;
    generated.push(best);
    if (stopIds.has(best)) break;
    input = [best];
  }
  return generated;
}

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city name" } },
      required: ["city"],
    },
  },
};

async function run(modelDir: string): Promise<number> {
  const config: ModelConfig = JSON.parse(await Deno.readTextFile(`${modelDir}/config.json`));
  const generation = JSON.parse(await Deno.readTextFile(`${modelDir}/generation_config.json`));
  const tokenizerConfig = JSON.parse(await Deno.readTextFile(`${modelDir}/tokenizer_config.json`));
  const tokenizer = await loadTokenizer(modelDir);
  const template = new Template(tokenizerConfig.chat_template);
  const session = await ort.InferenceSession.create(`${modelDir}/onnx/model.onnx`);
  const chat = (content: string, tools?: unknown[]) =>
    template.render({ messages: [{ role: "user", content }], tools, add_generation_prompt: true });
  const prompts: [string, string][] = [
    ["plain", "The command line is"],
    ["plain", "Debian is a free operating system that"],
    ["chat", chat("What does the ls command do?")],
    ["chat", chat("Hello! Who are you?")],
    ["chat", chat("What is 12 + 30?")],
    ["tool", chat("What's the weather in Paris?", [WEATHER_TOOL])],
    ["tool", chat("What is the weather like in Tokyo today?", [WEATHER_TOOL])],
  ];
  const stopIds = new Set<number>(generation.eos_token_id);
  for (const [kind, prompt] of prompts) {
    const ids = Array.from(tokenizer.encode(prompt, { special: "all", addSpecialTokens: false }));
    const started = performance.now();
    const out = await greedy(session, config, ids, stopIds, 60, 1.1);
    const ms = performance.now() - started;
    const text = tokenizer.decode(out);
    const shown = kind === "plain" ? prompt : prompt.slice(prompt.lastIndexOf("<|im_start|>user"));
    console.log(
      `--- ${kind} (${out.length} tokens, ${(out.length / (ms / 1000)).toFixed(0)} tok/s)`,
    );
    console.log(`${shown}${text}`);
  }
  return 0;
}

if (import.meta.main) {
  const [modelDir] = Deno.args;
  if (!modelDir) {
    console.error("usage: samples.ts MODEL_DIR");
    Deno.exit(2);
  }
  Deno.exit(await run(modelDir));
}
