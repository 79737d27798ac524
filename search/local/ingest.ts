/**
 * Filling the local index: files, directory trees (incrementally: changed files are rewritten,
 * vanished ones removed) and URLs fetched once.
 */
import { join, resolve } from "node:path";
import { toFileUrl } from "./_file_url.ts";
import { extractText, htmlToText, looksBinary } from "./extract.ts";
import type { LocalDocument, LocalIndex, UpsertOutcome } from "./local_index.ts";

/** What one `index add` did. */
export interface IngestSummary {
  /** Documents new to the index. */
  added: number;
  /** Documents whose content changed and was rewritten. */
  updated: number;
  /** Documents already indexed with the same content, left alone. */
  unchanged: number;
  /** Files left out: binary, empty, too big or unreadable. */
  skipped: number;
  /** Documents under a re-added directory whose files are gone. */
  removed: number;
}

/** Limits for adding files. */
export interface IngestOptions {
  /** Files bigger than this are skipped (bytes on disk). */
  maxFileBytes?: number;
  /** Documents written per transaction. */
  batchSize?: number;
}

const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Directories that hold tooling state, not documents. */
const SKIPPED_DIRS = new Set([".git", "node_modules", ".hg", ".svn", "__pycache__", ".cache"]);

function emptySummary(): IngestSummary {
  return { added: 0, updated: 0, unchanged: 0, skipped: 0, removed: 0 };
}

function count(summary: IngestSummary, outcomes: readonly UpsertOutcome[]): void {
  for (const outcome of outcomes) summary[outcome]++;
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (!SKIPPED_DIRS.has(entry.name)) yield* walk(path);
    } else if (entry.isFile) {
      yield path;
    }
  }
}

/**
 * Adds a file or every file under a directory. Re-adding a directory is an incremental update:
 * unchanged files are left alone and documents of deleted files are removed.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { addPath, openLocalIndex } from "@a3s/search";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const summary = await addPath(await openLocalIndex(store), "README.md");
 * await store.close();
 * ```
 */
export async function addPath(
  index: LocalIndex,
  path: string,
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const batchSize = options.batchSize ?? 200;
  const root = resolve(path);
  const info = await Deno.stat(root);
  const summary = emptySummary();
  const seen = new Set<string>();
  let batch: LocalDocument[] = [];
  const flush = async () => {
    if (batch.length) count(summary, await index.upsert(batch));
    batch = [];
  };
  const files = info.isDirectory ? walk(root) : (async function* () {
    yield root;
  })();
  for await (const file of files) {
    const uri = toFileUrl(file);
    seen.add(uri);
    let bytes: Uint8Array;
    try {
      const stat = await Deno.stat(file);
      if (stat.size > maxBytes) {
        summary.skipped++;
        continue;
      }
      bytes = await Deno.readFile(file);
    } catch {
      summary.skipped++;
      continue;
    }
    const text = extractText(file, bytes);
    if (!text || !text.body.trim()) {
      summary.skipped++;
      continue;
    }
    batch.push({ uri, title: text.title, body: text.body, source: "file" });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (info.isDirectory) {
    const prefix = toFileUrl(root) + "/";
    for (const doc of await index.list({ prefix, limit: Number.MAX_SAFE_INTEGER })) {
      if (!seen.has(doc.uri)) summary.removed += await index.remove(doc.uri);
    }
  }
  return summary;
}

/** How to fetch a URL for the index. */
export interface FetchOptions {
  /** The fetch to use: the access policy's on behalf of a request, plain fetch from the CLI. */
  fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
  /** Deadline for the whole fetch, in milliseconds (default 15 000). */
  timeoutMs?: number;
  /** Largest body accepted, in bytes; a bigger page is an error (default 8 MiB). */
  maxBytes?: number;
}

/** Fetches a page once and indexes its text under its URL. */
export async function addUrl(
  index: LocalIndex,
  url: string,
  options: FetchOptions = {},
): Promise<IngestSummary> {
  const fetcher = options.fetch ?? ((u, init) => fetch(u, init));
  const response = await fetcher(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url} answered HTTP ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > (options.maxBytes ?? DEFAULT_MAX_FILE_BYTES)) {
    throw new Error(`${url} is larger than ${options.maxBytes ?? DEFAULT_MAX_FILE_BYTES} bytes`);
  }
  const summary = emptySummary();
  if (looksBinary(bytes)) {
    summary.skipped++;
    return summary;
  }
  const text = new TextDecoder().decode(bytes);
  const isHtml = (response.headers.get("content-type") ?? "").includes("html") ||
    /^\s*<(!doctype html|html)/i.test(text);
  const page = isHtml ? htmlToText(text) : { title: "", body: text };
  const doc = { uri: url, title: page.title || url, body: page.body, source: "url" };
  count(summary, await index.upsert([doc]));
  return summary;
}
