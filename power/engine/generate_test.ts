import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "./_tokenizer.ts";
import { fitPrompt, generate, type LanguageModel } from "./generate.ts";
import { readModelDir } from "./model_dir.ts";
import { CausalLM } from "./session.ts";
import { renderChat } from "./chat_template.ts";

const dir = fileURLToPath(new URL("../testdata/tiny", import.meta.url));
const manifest = await readModelDir(dir);
const lm = await CausalLM.load(manifest);
const tokenizer = await loadTokenizer(dir);
const model: LanguageModel = {
  lm,
  tokenizer,
  manifest,
  stopTokens: new Set(tokenizer.specialTokens.values()),
};
const prompt = tokenizer.encode(
  renderChat(manifest.chatTemplate, [{ role: "user", content: "Hello there" }], {}),
  { special: "all" },
);

async function run(options: Parameters<typeof generate>[2]) {
  const stream = generate(model, prompt, options);
  let text = "";
  let step = await stream.next();
  while (!step.done) {
    text += step.value.text;
    step = await stream.next();
  }
  return { text, result: step.value };
}

Deno.test("the KV cache gives the same logits as recomputing the whole sequence", async () => {
  const ids = prompt.slice(0, 12);
  const cache = lm.newCache();
  await lm.forward(ids.slice(0, 8), cache);
  let last: Float32Array = new Float32Array();
  for (const id of ids.slice(8)) last = (await lm.forward([id], cache)).logits;
  const full = (await lm.forward(ids, lm.newCache())).logits;
  assertEquals(cache.length, 12);
  for (let i = 0; i < full.length; i++) assert(Math.abs(full[i] - last[i]) < 1e-4, `logit ${i}`);
});

Deno.test("greedy decoding equals a bare argmax loop over the model", async () => {
  const { result } = await run({ maxTokens: 10, sampling: { temperature: 0, repeatPenalty: 1 } });
  const cache = lm.newCache();
  let { logits } = await lm.forward(prompt, cache);
  const expected: number[] = [];
  while (expected.length < 10) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    if (model.stopTokens.has(best)) break;
    expected.push(best);
    ({ logits } = await lm.forward([best], cache));
  }
  assertEquals(result.tokens, expected);
});

Deno.test("streamed text joins to the result, and a seed repeats it", async () => {
  const a = await run({ maxTokens: 16, sampling: { seed: 3 } });
  const b = await run({ maxTokens: 16, sampling: { seed: 3 } });
  assertEquals(a.text, a.result.text);
  assertEquals(a.result.tokens, b.result.tokens);
  assertEquals(a.result.finishReason, "length");
  assertEquals(a.result.promptTokens, prompt.length);
});

Deno.test("a stop sequence ends the output before it", async () => {
  const free = await run({ maxTokens: 20, sampling: { seed: 5 } });
  const stop = free.text.slice(4, 6);
  assert(stop.length === 2);
  const stopped = await run({ maxTokens: 20, sampling: { seed: 5 }, stop: [stop] });
  assertEquals(stopped.result.finishReason, "stop");
  assertEquals(stopped.text, free.text.slice(0, free.text.indexOf(stop)));
});

Deno.test("an aborted signal cancels the generation", async () => {
  const controller = new AbortController();
  // A seed, so the run cannot end on its own first: unseeded, about one run in 25 sampled the
  // end-of-sequence token within three tokens and finished before the abort.
  const stream = generate(model, prompt, {
    maxTokens: 50,
    sampling: { seed: 5 },
    signal: controller.signal,
  });
  await stream.next();
  controller.abort();
  let step = await stream.next();
  while (!step.done) step = await stream.next();
  assertEquals(step.value.finishReason, "cancelled");
  assert(step.value.completionTokens < 50);
});

Deno.test("a prompt past the context says by how much, or is truncated on request", async () => {
  const long = new Array(manifest.contextLength + 10).fill(prompt[0]);
  const error = await assertRejects(
    () => run({ maxTokens: 1 }).then(() => generate(model, long).next()),
    A3sError,
  );
  assert(/exceeds the model's context of 512 by 11/.test(error.message), error.message);
  assertEquals(fitPrompt(long, 512, true).length, 511);
});
