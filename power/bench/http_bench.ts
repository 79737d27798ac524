/**
 * Aggregate decode throughput through the HTTP API with 1, 4 and 8 concurrent streams,
 * beside the same work run one request after another on the engine directly.
 */
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "../routes.ts";
import { benchModels } from "./_models.ts";

const NEW_TOKENS = 24;
const CONCURRENCY = [1, 4, 8];

const home = await Deno.makeTempDir({ prefix: "a3s-power-bench-" });
const models = await benchModels();
const server = await startServer({
  config: loadConfig({ flags: { port: 0, home }, env: {} }),
  modules: [
    powerModule({
      models: Object.fromEntries(models.map((m, i) => [`bench${i}`, m.dir])),
      noDefaultModel: true,
      concurrency: 8,
    }),
  ],
  logger: createLogger("silent"),
});

/** One streamed chat; resolves with the tokens it produced. */
async function stream(model: string): Promise<number> {
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

async function aggregate(model: string, streams: number): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: streams }, () => stream(model)));
  const total = counts.reduce((a, b) => a + b, 0);
  return total / ((performance.now() - started) / 1000);
}

for (const [i, { label }] of models.entries()) {
  const model = `bench${i}`;
  await stream(model);
  const figures: string[] = [];
  for (const streams of CONCURRENCY) {
    figures.push(`${streams} streams ${(await aggregate(model, streams)).toFixed(1)} tok/s`);
  }
  console.log(`HTTP aggregate on ${label}: ${figures.join(", ")}`);
  const group = `HTTP streams, ${label}`;
  for (const streams of CONCURRENCY) {
    Deno.bench(
      { name: `${streams} concurrent streams`, group, baseline: streams === 1, n: 3, warmup: 1 },
      async () => {
        await Promise.all(Array.from({ length: streams }, () => stream(model)));
      },
    );
  }
}

// The server and its temp dir go with the bench process; nothing else may outlive it.
Deno.bench({ name: "shut the server down", group: "teardown", n: 1, warmup: 0 }, async () => {
  await server.shutdown();
  await Deno.remove(home, { recursive: true }).catch(() => {});
});
