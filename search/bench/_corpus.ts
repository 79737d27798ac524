/**
 * The benchmark corpus: the text files under /usr/share/doc and English man pages of this
 * Debian system, in a fixed order, and known-item queries built from the man pages' NAME lines
 * (`ls - list directory contents` gives the query `list directory contents`, whose relevant
 * document is that page).
 */
import { join } from "node:path";
import { extractText } from "../local/extract.ts";
import { toFileUrl } from "../local/_file_url.ts";

/** One document, as every contender indexes it. */
export interface CorpusDoc {
  id: number;
  uri: string;
  title: string;
  body: string;
}

/** A query and the one document it should find. */
export interface KnownItemQuery {
  query: string;
  relevant: string;
}

/** Each body is cut at 32 KiB: huge changelogs would otherwise dominate every contender's time. */
const MAX_BODY = 32 * 1024;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

async function files(dir: string, out: string[]): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await files(path, out);
    else if (entry.isFile) out.push(path);
  }
}

/** Loads up to `size` documents: all of /usr/share/doc first, then man pages by section. */
export async function loadCorpus(size: number): Promise<CorpusDoc[]> {
  const paths: string[] = [];
  await files("/usr/share/doc", paths);
  for (const section of ["man8", "man7", "man5", "man1", "man3"]) {
    await files(`/usr/share/man/${section}`, paths);
  }
  const docs: CorpusDoc[] = [];
  for (const path of paths) {
    if (docs.length >= size) break;
    let bytes: Uint8Array;
    try {
      if (Deno.statSync(path).size > MAX_FILE_BYTES) continue;
      bytes = Deno.readFileSync(path);
    } catch {
      continue;
    }
    const text = extractText(path, bytes);
    if (!text || text.body.trim().length < 40) continue;
    docs.push({
      id: docs.length,
      uri: toFileUrl(path),
      title: text.title,
      body: text.body.slice(0, MAX_BODY),
    });
  }
  return docs;
}

/**
 * Known-item queries from man pages whose NAME description has 3 to 8 words and is unique in
 * the corpus, taken at an even stride so every section is represented.
 */
export function knownItemQueries(docs: readonly CorpusDoc[], count: number): KnownItemQuery[] {
  const candidates: KnownItemQuery[] = [];
  const seen = new Map<string, number>();
  for (const doc of docs) {
    if (!doc.uri.includes("/usr/share/man/")) continue;
    const description = doc.title.split(/\s+-+\s+/)[1];
    if (!description) continue;
    const words = description.toLowerCase().match(/[a-z][a-z0-9]+/g) ?? [];
    if (words.length < 3 || words.length > 8) continue;
    const query = words.join(" ");
    seen.set(query, (seen.get(query) ?? 0) + 1);
    candidates.push({ query, relevant: doc.uri });
  }
  const unique = candidates.filter((c) => seen.get(c.query) === 1);
  const stride = Math.max(1, Math.floor(unique.length / count));
  return unique.filter((_, i) => i % stride === 0).slice(0, count);
}
