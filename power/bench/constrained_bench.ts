/** The cost per token of JSON-Schema-constrained decoding against free decoding. */
import { generate, type LanguageModel } from "../engine/generate.ts";
import { JsonConstraint } from "../engine/constraint.ts";
import { compileSchema } from "../engine/json_schema.ts";
import { benchModels, benchPrompt, loadEngine, median } from "./_models.ts";

const NEW_TOKENS = 48;
const SCHEMA = {
  type: "object",
  properties: {
    title: { type: "string" },
    year: { type: "integer" },
    tags: { type: "array", items: { type: "string" } },
    summary: { type: "string" },
  },
  required: ["title", "year", "tags", "summary"],
};

/** Model steps taken, so forced completion tokens (which need no step) are not counted. */
let steps = 0;

async function run(model: LanguageModel, prompt: number[], constrained: boolean) {
  const eos = [...model.tokenizer.specialTokens.values()];
  const stream = generate(model, prompt, {
    maxTokens: NEW_TOKENS,
    sampling: { temperature: 0.8, seed: 1 },
    constraint: constrained
      ? new JsonConstraint(model.tokenizer, compileSchema(SCHEMA), eos)
      : undefined,
  });
  steps = 0;
  let step = await stream.next();
  // Time from the first token on: decode steps only, without the shared prefill.
  const started = performance.now();
  const stepsBefore = steps;
  while (!step.done) step = await stream.next();
  return { ms: performance.now() - started, tokens: steps - stepsBefore };
}

/**
 * Median ms per decode step of free and constrained runs. Rounds alternate the two, so load from
 * other processes falls on both alike, and each run starts with a warm-up of its own kind.
 */
async function perToken(model: LanguageModel, prompt: number[]) {
  const samples = { free: [] as number[], constrained: [] as number[] };
  for (let round = 0; round < 8; round++) {
    for (const constrained of round % 2 ? [true, false] : [false, true]) {
      await run(model, prompt, constrained);
      for (let i = 0; i < 2; i++) {
        const r = await run(model, prompt, constrained);
        samples[constrained ? "constrained" : "free"].push(r.ms / r.tokens);
      }
    }
  }
  return { free: median(samples.free), constrained: median(samples.constrained) };
}

for (const { label, dir } of await benchModels()) {
  const model = await loadEngine(dir);
  const forward = model.lm.forward.bind(model.lm);
  model.lm.forward = (...args: Parameters<typeof forward>) => {
    steps++;
    return forward(...args);
  };
  const prompt = benchPrompt(model);
  const { free, constrained } = await perToken(model, prompt);
  const difference = constrained - free;
  console.log(
    `constrained decoding on ${label}: ${constrained.toFixed(2)} ms per decode step vs ${
      free.toFixed(2)
    } ms free (${difference >= 0 ? "+" : ""}${difference.toFixed(2)} ms, ${
      difference >= 0 ? "+" : ""
    }${((constrained / free - 1) * 100).toFixed(1)}%)`,
  );
  const group = `${NEW_TOKENS}-token JSON run (constrained ends when its object closes), ${label}`;
  Deno.bench({ name: "free decoding", group, baseline: true, n: 5, warmup: 1 }, async () => {
    await run(model, prompt, false);
  });
  Deno.bench({ name: "JSON-Schema constrained", group, n: 5, warmup: 1 }, async () => {
    await run(model, prompt, true);
  });
}
