/**
 * The mixed benchmark corpus: documentation and source code from the installed npm packages
 * (prose, JavaScript, TypeScript, Markdown, JSON), interleaved with the multilingual test corpus
 * (CJK, Arabic, Hebrew, Devanagari, Thai, emoji). Deterministic for a given lock file.
 */
import { join } from "node:path";

const NODE_MODULES = new URL("../../node_modules/.deno/", import.meta.url).pathname;
// Rank tables and vocabularies are data, not text anyone counts tokens of.
const SKIP = /rank|encod|vocab|tokenizer\.json|\.min\.|\.map$|unicode|data\//i;

function* walk(dir: string, depth: number): Generator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && depth > 0 && entry.name !== ".bin") yield* walk(path, depth - 1);
    else if (entry.isFile && /\.(md|ts|js|mjs|json)$/.test(entry.name) && !SKIP.test(path)) {
      yield path;
    }
  }
}

/** At least `bytes` of mixed text. */
export function mixedCorpus(bytes = 1_100_000): string {
  const multilingual: string[] = JSON.parse(
    Deno.readTextFileSync(new URL("../testdata/tokenizer/corpus.json", import.meta.url)),
  );
  const parts: string[] = [];
  let size = 0;
  let next = 0;
  for (const path of walk(NODE_MODULES, 6)) {
    const info = Deno.statSync(path);
    if (info.size < 500 || info.size > 60_000) continue;
    const text = Deno.readTextFileSync(path);
    parts.push(text);
    size += text.length;
    // Every ~8 KB of code and docs, a stretch of other scripts and emoji.
    while (next * 8000 < size) {
      parts.push(multilingual[next % multilingual.length]);
      next++;
    }
    if (size >= bytes) break;
  }
  return parts.join("\n");
}
