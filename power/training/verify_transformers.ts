/**
 * Loads the exported model directory with @huggingface/transformers' text-generation pipeline
 * (local files only) and checks its greedy continuation equals a bare onnxruntime-node greedy
 * loop with a KV cache over the same onnx/model.onnx.
 *
 * deno run -A --no-lock power/training/verify_transformers.ts power/model/default
 */
// Development checks against the reference JavaScript implementation, outside power's dependencies.
// deno-lint-ignore no-import-prefix
import { env, pipeline } from "npm:@huggingface/transformers@4.3.1";
// deno-lint-ignore no-import-prefix
import { TokenizerLoader } from "npm:@lenml/tokenizers@3.7.2";
import * as ort from "onnxruntime-node";
import { greedy, type ModelConfig } from "./samples.ts";

const PROMPTS = [
  "The file system",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
];
const NEW_TOKENS = 24;

async function run(modelDir: string): Promise<number> {
  const absolute = await Deno.realPath(modelDir);
  const parent = absolute.slice(0, absolute.lastIndexOf("/") + 1);
  const name = absolute.slice(parent.length);
  env.allowRemoteModels = false;
  env.localModelPath = parent;
  const generator = await pipeline("text-generation", name, { dtype: "fp32" });
  const config: ModelConfig = JSON.parse(await Deno.readTextFile(`${absolute}/config.json`));
  const generation = JSON.parse(await Deno.readTextFile(`${absolute}/generation_config.json`));
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(await Deno.readTextFile(`${absolute}/tokenizer.json`)),
    tokenizerConfig: JSON.parse(await Deno.readTextFile(`${absolute}/tokenizer_config.json`)),
  });
  const session = await ort.InferenceSession.create(`${absolute}/onnx/model.onnx`);
  const stopIds = new Set<number>(generation.eos_token_id);
  let failed = 0;
  for (const prompt of PROMPTS) {
    const ids = tokenizer.encode(prompt, { add_special_tokens: false });
    const bare = await greedy(session, config, ids, stopIds, NEW_TOKENS);
    // deno-lint-ignore no-explicit-any
    const result = await (generator as any)(prompt, {
      max_new_tokens: NEW_TOKENS,
      do_sample: false,
      repetition_penalty: 1,
      return_full_text: false,
    });
    const text: string = result[0].generated_text;
    const bareText = tokenizer.decode(bare, { skip_special_tokens: true });
    const ok = text === bareText;
    if (!ok) failed++;
    console.log(
      `${ok ? "ok  " : "FAIL"} pipeline matches bare greedy loop for ${
        JSON.stringify(prompt.slice(-30))
      }`,
    );
    console.log(`     transformers.js: ${JSON.stringify(text)}`);
    if (!ok) console.log(`     bare loop:       ${JSON.stringify(bareText)}`);
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  const [modelDir] = Deno.args;
  if (!modelDir) {
    console.error("usage: verify_transformers.ts MODEL_DIR");
    Deno.exit(2);
  }
  Deno.exit(await run(modelDir));
}
