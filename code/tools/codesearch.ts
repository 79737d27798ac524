/**
 * `codesearch`: symbol definitions and ranked text hits across the workspace. It builds a small
 * index (definitions by language pattern, BM25 over identifier terms) on each call, cached by
 * file modification time so repeated searches only re-read changed files.
 */
import { z } from "zod";
import type { Workspace } from "../runtime/workspace.ts";
import { defineTool } from "./tool.ts";
import { decodeText, readableFilter, walkFiles } from "./_walk.ts";

const DEFINITION = new RegExp(
  [
    String
      .raw`^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|interface|type|enum|const|let|var)\s+([A-Za-z_$][\w$]*)`,
    String
      .raw`^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:fn|struct|enum|trait|mod|type|const|static)\s+([A-Za-z_]\w*)`,
    String.raw`^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)`,
    String.raw`^\s*func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)`,
  ].join("|"),
);

const CODE_FILE =
  /\.(ts|tsx|js|jsx|mjs|cjs|rs|py|go|java|kt|c|h|cc|cpp|hpp|rb|php|cs|swift|scala|sh|md)$/;

interface IndexedFile {
  mtime: number;
  symbols: { name: string; line: number; text: string }[];
  terms: Map<string, number>;
  length: number;
  lines: string[];
}

const caches = new Map<string, Map<string, IndexedFile>>();

function terms(text: string): string[] {
  // Split identifiers on case and underscores, so `parseConfig` matches "parse config".
  return text.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter((t) =>
    t.length > 1
  );
}

/** The workspace's code files by relative path, re-reading only those changed since last time. */
async function index(
  workspace: Workspace,
  signal: AbortSignal,
): Promise<Map<string, IndexedFile>> {
  const cache = caches.get(workspace.root) ?? new Map<string, IndexedFile>();
  caches.set(workspace.root, cache);
  const seen = new Set<string>();
  for await (const file of walkFiles(workspace, ".", signal)) {
    if (!CODE_FILE.test(file.rel)) continue;
    const info = file.stat();
    if (!info) continue;
    seen.add(file.rel);
    const mtime = info.mtimeMs;
    if (cache.get(file.rel)?.mtime === mtime) continue;
    const text = decodeText(await file.read(1_000_000, signal));
    if (text === undefined) {
      cache.delete(file.rel);
      continue;
    }
    const lines = text.split("\n");
    const symbols: IndexedFile["symbols"] = [];
    lines.forEach((line, i) => {
      const m = DEFINITION.exec(line);
      const name = m?.slice(1).find(Boolean);
      if (name) symbols.push({ name, line: i + 1, text: line.trim().slice(0, 160) });
    });
    const tf = new Map<string, number>();
    const all = terms(text);
    for (const t of all) tf.set(t, (tf.get(t) ?? 0) + 1);
    cache.set(file.rel, { mtime, symbols, terms: tf, length: all.length, lines });
  }
  for (const file of cache.keys()) if (!seen.has(file)) cache.delete(file);
  return cache;
}

export const codesearchTool = defineTool({
  name: "codesearch",
  description:
    "Search the workspace's code: kind=symbol finds definitions (functions, classes, types) by name; kind=text ranks files by relevance to the query and shows the best lines.",
  effect: "read",
  input: z.object({
    query: z.string().min(1),
    kind: z.enum(["symbol", "text"]).default("symbol"),
    limit: z.number().int().positive().max(100).default(20),
  }),
  subject: (input) => input.query,
  async run(input, ctx) {
    const readable = readableFilter(ctx.services);
    // Files the session's read rules keep from the model are left out of every answer.
    const files = new Map(
      [...(await index(ctx.workspace, ctx.signal))].filter(([file]) => readable(file)),
    );
    const rel = (f: string) => f;
    if (input.kind === "symbol") {
      const q = input.query.toLowerCase();
      const hits: { score: number; line: string }[] = [];
      for (const [file, entry] of files) {
        for (const s of entry.symbols) {
          const name = s.name.toLowerCase();
          const score = name === q ? 3 : name.startsWith(q) ? 2 : name.includes(q) ? 1 : 0;
          if (score) hits.push({ score, line: `${rel(file)}:${s.line}: ${s.text}` });
        }
      }
      hits.sort((a, b) => b.score - a.score || a.line.localeCompare(b.line));
      return hits.slice(0, input.limit).map((h) => h.line).join("\n") || "no symbols match";
    }
    const query = [...new Set(terms(input.query))];
    const n = files.size || 1;
    const avg = [...files.values()].reduce((a, f) => a + f.length, 0) / n || 1;
    const df = new Map(
      query.map((t) => [t, [...files.values()].filter((f) => f.terms.has(t)).length]),
    );
    const scored: { file: string; score: number; entry: IndexedFile }[] = [];
    for (const [file, entry] of files) {
      let score = 0;
      for (const t of query) {
        const f = entry.terms.get(t) ?? 0;
        if (!f) continue;
        const idf = Math.log(1 + (n - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
        score += idf * (f * 2.2) / (f + 1.2 * (0.25 + 0.75 * entry.length / avg));
      }
      if (score > 0) scored.push({ file, score, entry });
    }
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, input.limit).map(({ file, score, entry }) => {
      const best = entry.lines.map((l, i) => ({
        i,
        hits: query.filter((t) => terms(l).includes(t)).length,
      }))
        .filter((x) => x.hits).sort((a, b) => b.hits - a.hits).slice(0, 3).sort((a, b) =>
          a.i - b.i
        );
      return `${rel(file)} (score ${score.toFixed(2)})\n${
        best.map((b) => `  ${b.i + 1}: ${entry.lines[b.i].trim().slice(0, 160)}`).join("\n")
      }`;
    }).join("\n") || "no matches";
  },
});
