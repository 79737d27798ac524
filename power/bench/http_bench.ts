/**
 * Aggregate decode throughput through the HTTP API with 1, 4 and 8 concurrent streams, with
 * decode-step batching on and, as the baseline, off (one sequence per ONNX Runtime call).
 */
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { powerModule } from "../routes.ts";
import { benchModels } from "./_models.ts";

const NEW_TOKENS = 24;
const CONCURRENCY = [1, 4, 8];

const home = await Deno.makeTempDir({ prefix: "a3s-power-bench-" });
const models = await benchModels();
const names = Object.fromEntries(models.map((m, i) => [`bench${i}`, m.dir]));

async function serve(batchSize: number): Promise<RunningServer> {
  return await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule({ models: names, noDefaultModel: true, concurrency: 8, batchSize })],
    logger: createLogger("silent"),
  });
}

const servers = { unbatched: await serve(1), batched: await serve(8) };

/** One streamed chat; resolves with the tokens it produced. */
async function stream(server: RunningServer, model: string): Promise<number> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: "Tell me a story about a lighthouse." }],
      max_tokens: NEW_TOKENS,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const text = await response.text();
  const usage = text.split("\n").filter((l) => l.includes('"usage"')).map((l) =>
    JSON.parse(l.slice(6)).usage
  ).at(-1);
  return usage?.completion_tokens ?? 0;
}

/** Tokens/s of `streams` concurrent requests: the median of three rounds. */
async function aggregate(server: RunningServer, model: string, streams: number): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const counts = await Promise.all(Array.from({ length: streams }, () => stream(server, model)));
    const total = counts.reduce((a, b) => a + b, 0);
    rounds.push(total / ((performance.now() - started) / 1000));
  }
  return rounds.sort((a, b) => a - b)[1];
}

for (const [i, { label }] of models.entries()) {
  const model = `bench${i}`;
  for (const [mode, server] of Object.entries(servers)) {
    await stream(server, model);
    const figures: string[] = [];
    for (const streams of CONCURRENCY) {
      figures.push(`${streams}: ${(await aggregate(server, model, streams)).toFixed(1)}`);
    }
    console.log(`HTTP aggregate tok/s on ${label}, ${mode} (streams: tok/s) ${figures.join(", ")}`);
  }
  const group = `HTTP streams, ${label}`;
  Deno.bench(
    { name: "8 streams, one sequence per call", group, baseline: true, n: 3, warmup: 1 },
    async () => {
      await Promise.all(Array.from({ length: 8 }, () => stream(servers.unbatched, model)));
    },
  );
  for (const streams of CONCURRENCY) {
    Deno.bench({ name: `${streams} streams, batched`, group, n: 3, warmup: 1 }, async () => {
      await Promise.all(Array.from({ length: streams }, () => stream(servers.batched, model)));
    });
  }
}

// The servers and the temp dir go with the bench process; nothing may outlive it.
Deno.bench({ name: "shut the servers down", group: "teardown", n: 1, warmup: 0 }, async () => {
  await servers.batched.shutdown();
  await servers.unbatched.shutdown();
  await Deno.remove(home, { recursive: true }).catch(() => {});
});
