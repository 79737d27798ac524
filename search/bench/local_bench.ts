/**
 * The local engine against MiniSearch and FlexSearch on the same corpus (>= 10,000 documents
 * of this machine's /usr/share/doc and man pages), in one run: indexing throughput, top-10
 * quality on known-item queries, and query latency p50/p99 measured in interleaved rounds.
 * The figures print once at load; `deno bench` then times one query per iteration.
 *
 *   deno bench -A search/bench/local_bench.ts
 *
 * Set A3S_BENCH_DOCS to change the corpus size (default 12,000).
 */
import { openStore } from "@a3s/common";
import MiniSearch from "minisearch";
import FlexSearch from "flexsearch";
import { openLocalIndex } from "../local/local_index.ts";
import { type CorpusDoc, knownItemQueries, loadCorpus } from "./_corpus.ts";

const SIZE = Number(Deno.env.get("A3S_BENCH_DOCS") ?? 12_000);
const ROUNDS = 3;

interface Contender {
  name: string;
  index(docs: readonly CorpusDoc[]): Promise<void>;
  /** Top-10 document URIs, best first. */
  search(query: string): Promise<string[]>;
}

const docs = await loadCorpus(SIZE);
const byId = new Map(docs.map((d) => [d.id, d.uri]));
const queries = knownItemQueries(docs, 200);
if (!queries.length) {
  throw new Error(`no man pages among the first ${docs.length} documents; raise A3S_BENCH_DOCS`);
}
const megabytes =
  docs.reduce((sum, d) => sum + new TextEncoder().encode(d.title + d.body).length, 0) / 1e6;

const home = await Deno.makeTempDir({ prefix: "search_bench_" });
const store = await openStore({ home });
const ours = await openLocalIndex(store);

const mini = new MiniSearch<CorpusDoc>({
  fields: ["title", "body"],
  storeFields: [],
  searchOptions: { boost: { title: 10 } },
});
const flex = new FlexSearch.Document({ document: { id: "id", index: ["title", "body"] } });

const contenders: Contender[] = [
  {
    name: `a3s local (${ours.backend}, file-backed)`,
    async index(all) {
      for (let i = 0; i < all.length; i += 500) {
        await ours.upsert(
          all.slice(i, i + 500).map((d) => ({
            uri: d.uri,
            title: d.title,
            body: d.body,
            source: "file",
          })),
        );
      }
    },
    async search(query) {
      return (await ours.search(query, { limit: 10 })).map((h) => h.uri);
    },
  },
  {
    name: "MiniSearch 7.2.0 (in memory)",
    index(all) {
      mini.addAll(all);
      return Promise.resolve();
    },
    search(query) {
      return Promise.resolve(mini.search(query).slice(0, 10).map((r) => byId.get(r.id as number)!));
    },
  },
  {
    name: "FlexSearch 0.8.212 (in memory)",
    index(all) {
      for (const doc of all) flex.add({ id: doc.id, title: doc.title, body: doc.body });
      return Promise.resolve();
    },
    search(query) {
      // One result list per field; title hits first, as the other two weight titles up.
      const fields = flex.search(query, { limit: 10 }) as Array<
        { field: string; result: number[] }
      >;
      const ordered = [...fields].sort((
        a,
        b,
      ) => (a.field === "title" ? -1 : b.field === "title" ? 1 : 0));
      const ids = [...new Set(ordered.flatMap((f) => f.result))].slice(0, 10);
      return Promise.resolve(ids.map((id) => byId.get(id)!));
    },
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows: string[][] = [];
const latencies = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
const quality = new Map<string, { recall: number; mrr: number }>();
for (const contender of contenders) {
  const started = performance.now();
  await contender.index(docs);
  const seconds = (performance.now() - started) / 1000;
  rows.push([
    contender.name,
    String(docs.length),
    (docs.length / seconds).toFixed(0),
    (megabytes / seconds).toFixed(2),
  ]);
  let found = 0;
  let reciprocal = 0;
  for (const q of queries) {
    const rank = (await contender.search(q.query)).indexOf(q.relevant);
    if (rank >= 0) {
      found++;
      reciprocal += 1 / (rank + 1);
    }
  }
  quality.set(contender.name, { recall: found / queries.length, mrr: reciprocal / queries.length });
}
// Latency: every query on every contender, contenders interleaved per query, several rounds.
for (let round = 0; round < ROUNDS; round++) {
  for (const q of queries) {
    for (const contender of contenders) {
      const t = performance.now();
      await contender.search(q.query);
      latencies.get(contender.name)!.push(performance.now() - t);
    }
  }
}

const header = ["engine", "docs", "docs/s", "MB/s", "recall@10", "MRR@10", "p50 ms", "p99 ms"];
const table = contenders.map((c, i) => {
  const sorted = latencies.get(c.name)!.sort((a, b) => a - b);
  const q = quality.get(c.name)!;
  return [
    ...rows[i],
    q.recall.toFixed(3),
    q.mrr.toFixed(3),
    percentile(sorted, 50).toFixed(3),
    percentile(sorted, 99).toFixed(3),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
console.log(
  `\nlocal engine benchmark: ${docs.length} documents, ${megabytes.toFixed(1)} MB of text, ` +
    `${queries.length} known-item queries, ${ROUNDS} interleaved latency rounds\n` +
    [header, ...table].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n") +
    "\n",
);

let next = 0;
const nextQuery = () => queries[next++ % queries.length].query;
for (const contender of contenders) {
  Deno.bench({
    name: contender.name,
    group: "local query",
    baseline: contender === contenders[0],
    async fn() {
      await contender.search(nextQuery());
    },
  });
}

globalThis.addEventListener("unload", () => {
  store.close().finally(() => Deno.removeSync(home, { recursive: true }));
});
