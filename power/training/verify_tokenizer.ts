/**
 * Checks the shipped tokenizer.json and chat template against the Python side that trained on
 * them: @lenml/tokenizers (transformers.js' tokenizer) and @a3s/wasm's tokenizer (the one the
 * engine uses) must encode each case to the ids the Python encoder produced and decode them back
 * to the same text, and @huggingface/jinja must render each chat exactly as
 * dialogues.py rendered the training data.
 *
 * deno run -A power/training/verify_tokenizer.ts power/model/default power/training/build/cases.json
 */
// A development check against the reference JavaScript port, outside power's dependencies.
// deno-lint-ignore no-import-prefix
import { TokenizerLoader } from "npm:@lenml/tokenizers@3.7.2";
import { Template } from "@huggingface/jinja";
import { loadTokenizer } from "@a3s/wasm/tokenizer";

interface Cases {
  texts: { text: string; ids: number[] }[];
  chats: { messages: Record<string, unknown>[]; tools: unknown[] | null; rendered: string }[];
}

async function run(modelDir: string, casesPath: string): Promise<number> {
  const tokenizerJSON = JSON.parse(await Deno.readTextFile(`${modelDir}/tokenizer.json`));
  const tokenizerConfig = JSON.parse(await Deno.readTextFile(`${modelDir}/tokenizer_config.json`));
  const cases: Cases = JSON.parse(await Deno.readTextFile(casesPath));
  const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  let failed = 0;
  const report = (ok: boolean, what: string) => {
    if (!ok) failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  };
  const wasm = await loadTokenizer(modelDir);
  for (const { text, ids } of cases.texts) {
    const label = JSON.stringify(text.slice(0, 40));
    const encoded = tokenizer.encode(text, { add_special_tokens: false });
    const decoded = tokenizer.decode(encoded, { skip_special_tokens: false });
    report(JSON.stringify(encoded) === JSON.stringify(ids), `lenml ids match Python for ${label}`);
    report(decoded === text, `lenml decode round trip for ${label}`);
    const wasmIds = Array.from(wasm.encode(text, { special: "all", addSpecialTokens: false }));
    report(JSON.stringify(wasmIds) === JSON.stringify(ids), `wasm ids match Python for ${label}`);
    report(wasm.decode(wasmIds) === text, `wasm decode round trip for ${label}`);
  }
  wasm.free();
  const template = new Template(tokenizerConfig.chat_template);
  for (const [index, chat] of cases.chats.entries()) {
    const rendered = template.render({
      messages: chat.messages,
      tools: chat.tools ?? undefined,
      add_generation_prompt: false,
    });
    report(rendered === chat.rendered, `chat ${index} renders as in training`);
    if (rendered !== chat.rendered) {
      console.log(JSON.stringify(rendered));
      console.log(JSON.stringify(chat.rendered));
    }
  }
  const prompt = tokenizer.apply_chat_template(
    [{ role: "user", content: "Hello!" }],
    { tokenize: false, add_generation_prompt: true },
  ) as string;
  report(prompt.endsWith("<|im_start|>assistant\n"), "generation prompt ends with assistant turn");
  console.log(`vocabulary: ${tokenizer.model.vocab.length} tokens`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  const [modelDir, casesPath] = Deno.args;
  if (!modelDir || !casesPath) {
    console.error("usage: verify_tokenizer.ts MODEL_DIR CASES_JSON");
    Deno.exit(2);
  }
  Deno.exit(await run(modelDir, casesPath));
}
