/**
 * Decode speed and time to first token: power's engine beside a bare onnxruntime-node greedy
 * loop over the same model and KV cache (the engine may cost at most 10% more) and beside
 * `@huggingface/transformers`' text-generation pipeline on the same model directory.
 */
import { basename, dirname } from "node:path";
import { BaseStreamer, env, pipeline } from "@huggingface/transformers";
import { generate, type LanguageModel } from "../engine/generate.ts";
import { BareLoop, benchModels, benchPrompt, insideRuns, loadEngine, median } from "./_models.ts";

const NEW_TOKENS = 64;
const ROUNDS = 8;
const RUNS_PER_ROUND = 3;

/** One generation's clock: when its first token came and when it ended (ms after the start). */
interface RunTiming {
  firstMs: number;
  totalMs: number;
}

async function engineRun(
  model: LanguageModel,
  prompt: number[],
  count: number,
): Promise<RunTiming> {
  const started = performance.now();
  const stream = generate(model, prompt, {
    maxTokens: count,
    sampling: { temperature: 0, repeatPenalty: 1 },
  });
  let step = await stream.next();
  const firstMs = performance.now() - started;
  while (!step.done) step = await stream.next();
  return { firstMs, totalMs: performance.now() - started };
}

type TextGenerator = (text: string, options: Record<string, unknown>) => Promise<unknown>;

async function loadPipeline(dir: string): Promise<TextGenerator> {
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(dir)}/`;
  return (await pipeline("text-generation", basename(dir), {
    dtype: "fp32",
  })) as unknown as TextGenerator;
}

/** Notes when transformers.js hands over its first generated token (its first put is the prompt). */
class FirstTokenClock extends BaseStreamer {
  #puts = 0;
  firstAt = 0;
  override put(): void {
    if (++this.#puts === 2) this.firstAt = performance.now();
  }
  override end(): void {}
}

async function pipelineRun(generator: TextGenerator, prompt: string, count: number) {
  const clock = new FirstTokenClock();
  const started = performance.now();
  await generator(prompt, {
    max_new_tokens: count,
    min_new_tokens: count,
    do_sample: false,
    repetition_penalty: 1,
    return_full_text: false,
    streamer: clock,
  });
  return { firstMs: clock.firstAt - started, totalMs: performance.now() - started };
}

type Contender = (count: number) => Promise<RunTiming>;

/**
 * Time to first token and decode tokens/s of each contender, both read from the same runs.
 * Each round gives every contender a warm-up run and then a few measured ones back to back
 * (so its weights are in cache, as they are for a server decoding one model), and the order
 * rotates from round to round so that load from other processes falls on all alike.
 */
async function measure(contenders: Contender[]) {
  const first = contenders.map(() => [] as number[]);
  const rate = contenders.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length;
      await contenders[i](NEW_TOKENS);
      for (let run = 0; run < RUNS_PER_ROUND; run++) {
        const { firstMs, totalMs } = await contenders[i](NEW_TOKENS);
        first[i].push(firstMs);
        rate[i].push((NEW_TOKENS - 1) / Math.max(totalMs - firstMs, 1e-9) * 1000);
      }
    }
  }
  return contenders.map((_, i) => ({
    ttftMs: median(first[i]),
    tokensPerSecond: median(rate[i]),
  }));
}

for (const { label, dir } of await benchModels()) {
  const engine = await loadEngine(dir);
  const prompt = benchPrompt(engine);
  const promptText = engine.tokenizer.decode(prompt);
  const bare = await BareLoop.load(dir);
  let generator: TextGenerator | undefined;
  try {
    generator = await loadPipeline(dir);
  } catch (error) {
    console.log(`SKIPPED transformers.js on ${label}: ${(error as Error).message}`);
  }

  const contenders: Contender[] = [
    (n) => bare.timedRun(prompt, n),
    (n) => engineRun(engine, prompt, n),
  ];
  if (generator) contenders.push((n) => pipelineRun(generator!, promptText, n));
  const [bareFigures, powerFigures, peerFigures] = await measure(contenders);
  const overhead = (bareFigures.tokensPerSecond / powerFigures.tokensPerSecond - 1) * 100;
  // Wall clocks swing with other load on the machine. The work each contender does around
  // session.run swings far less, so it is the steadier measure of what each adds to ORT.
  const names = ["bare", "power", "transformers.js"];
  const cost = contenders.map(() => ({ outside: 0, inside: 0 }));
  const runs = 6;
  for (const [c, run] of contenders.entries()) {
    await run(NEW_TOKENS);
    for (let i = 0; i < runs; i++) {
      const before = insideRuns.ms;
      const started = performance.now();
      await run(NEW_TOKENS);
      const inside = insideRuns.ms - before;
      cost[c].outside += (performance.now() - started - inside) / NEW_TOKENS / runs;
      cost[c].inside += inside / NEW_TOKENS / runs;
    }
  }
  const [bareCost, powerCost] = cost;
  console.log(`\ndecode on ${label} (prompt ${prompt.length} tokens, ${NEW_TOKENS} new, greedy):`);
  const row = (name: string, f: { ttftMs: number; tokensPerSecond: number }) =>
    console.log(
      `  ${name.padEnd(18)} ${f.tokensPerSecond.toFixed(1).padStart(8)} tok/s   TTFT ${
        f.ttftMs.toFixed(1)
      } ms`,
    );
  row("power engine", powerFigures);
  row("bare ORT loop", bareFigures);
  if (peerFigures) row("transformers.js", peerFigures);
  console.log(`  power overhead vs bare loop (wall clock): ${overhead.toFixed(1)}% (budget 10%)`);
  for (const [c, figures] of cost.entries()) {
    console.log(
      `  per token, ${names[c].padEnd(15)} inside session.run ${
        figures.inside.toFixed(3)
      } ms, around it ${figures.outside.toFixed(3)} ms`,
    );
  }
  console.log(
    `  engine overhead from the work around session.run: ${
      ((powerCost.outside - bareCost.outside) / (bareCost.inside + bareCost.outside) * 100).toFixed(
        2,
      )
    }% (budget 10%)`,
  );
  if (peerFigures) {
    console.log(
      `  power vs transformers.js: ${
        (powerFigures.tokensPerSecond / peerFigures.tokensPerSecond).toFixed(2)
      }x`,
    );
  }

  const group = `decode ${NEW_TOKENS} tokens, ${label}`;
  Deno.bench(
    { name: "bare onnxruntime-node loop", group, baseline: true, n: 10, warmup: 2 },
    async () => {
      await bare.run(prompt, NEW_TOKENS);
    },
  );
  Deno.bench({ name: "power engine", group, n: 10, warmup: 2 }, async () => {
    await engineRun(engine, prompt, NEW_TOKENS);
  });
  if (generator) {
    Deno.bench({ name: "transformers.js pipeline", group, n: 10, warmup: 2 }, async () => {
      await pipelineRun(generator!, promptText, NEW_TOKENS);
    });
  }
}
