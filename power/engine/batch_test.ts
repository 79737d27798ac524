import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "./_tokenizer.ts";
import { StepBatcher } from "./batch.ts";
import { generate, type LanguageModel } from "./generate.ts";
import { readModelDir } from "./model_dir.ts";
import { CausalLM } from "./session.ts";

const dir = fileURLToPath(new URL("../testdata/tiny", import.meta.url));
const manifest = await readModelDir(dir);
const lm = await CausalLM.load(manifest);
const tokenizer = await loadTokenizer(dir);
const alone: LanguageModel = { lm, tokenizer, manifest, stopTokens: new Set() };
const batcher = new StepBatcher(lm, 8);
const batched: LanguageModel = { ...alone, batcher };

async function tokens(model: LanguageModel, prompt: string, count: number): Promise<number[]> {
  const stream = generate(model, tokenizer.encode(prompt), {
    maxTokens: count,
    sampling: { temperature: 0, repeatPenalty: 1 },
  });
  let step = await stream.next();
  while (!step.done) step = await stream.next();
  return step.value.tokens;
}

Deno.test("batched decode steps give each sequence what it gets alone", async () => {
  const prompts = ["Hello", "The city of London is large and old", "12 345", "a"];
  const expected = [];
  for (const p of prompts) expected.push(await tokens(alone, p, 20));
  const calls = { count: 0 };
  const run = lm.session.run.bind(lm.session);
  // deno-lint-ignore no-explicit-any
  (lm.session as any).run = (...args: any[]) => {
    calls.count++;
    // deno-lint-ignore no-explicit-any
    return (run as any)(...args);
  };
  const together = await Promise.all(prompts.map((p) => tokens(batched, p, 20)));
  assertEquals(together, expected);
  // Four prefills plus shared steps: far fewer calls than 4 x 20.
  assert(calls.count < 4 + 20 * 2, `made ${calls.count} calls`);
});
