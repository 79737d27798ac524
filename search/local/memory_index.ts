/**
 * The agent's memory in the local index. The agent framework owns its memories; it tells this
 * index each one it saves, forgets or finds changed, and a plain `search` (no engine configured,
 * no internet) then finds them beside the user's files. Memories are documents whose URI is
 * `memory:<id>` and whose source is `memory`, so they never collide with files or URLs.
 */
import type { IndexedDocument, LocalIndex, UpsertOutcome } from "./local_index.ts";
import { ValidationError } from "@a3s/common";

/** One memory as the agent framework hands it over. */
export interface MemoryEntry {
  /** The memory's stable id in the agent framework (any non-empty string up to 200 characters). */
  id: string;
  /** What the memory says; searched and shown in snippets. */
  text: string;
  /** A short title; default: the first line of `text`, cut at 80 characters. */
  title?: string;
  /** Tags, searchable like words of the text. */
  tags?: readonly string[];
}

/** What {@linkcode MemoryIndex.sync} changed. */
export interface MemorySyncSummary {
  /** Memories new to the index. */
  added: number;
  /** Memories whose text, title or tags changed. */
  updated: number;
  /** Memories already indexed as they are. */
  unchanged: number;
  /** Indexed memories that are no longer in the agent's memory. */
  removed: number;
}

/** The URI prefix of every memory document. */
export const MEMORY_URI_PREFIX = "memory:";
/** The `source` of every memory document. */
export const MEMORY_SOURCE = "memory";

const MAX_ID_LENGTH = 200;
const TITLE_LENGTH = 80;
const LIST_PAGE = 500;

/**
 * The URI a memory is indexed under. The id is percent-encoded so that no id ends in `/` and
 * turns a removal into a prefix removal.
 */
export function memoryUri(id: string): string {
  return `${MEMORY_URI_PREFIX}${encodeURIComponent(id)}`;
}

/** The memory id of a `memory:` URI, or undefined for any other URI. */
export function memoryIdOf(uri: string): string | undefined {
  if (!uri.startsWith(MEMORY_URI_PREFIX)) return undefined;
  try {
    return decodeURIComponent(uri.slice(MEMORY_URI_PREFIX.length));
  } catch {
    return undefined;
  }
}

function checkId(id: string, field: string): void {
  if (typeof id !== "string" || id.trim() === "" || id.length > MAX_ID_LENGTH) {
    throw new ValidationError(`a memory id must be 1-${MAX_ID_LENGTH} characters`, field);
  }
}

function titleOf(entry: MemoryEntry): string {
  if (entry.title?.trim()) return entry.title.trim();
  const firstLine = entry.text.trim().split("\n", 1)[0].trim();
  return firstLine.length > TITLE_LENGTH ? `${firstLine.slice(0, TITLE_LENGTH - 1)}…` : firstLine;
}

function bodyOf(entry: MemoryEntry): string {
  const tags = (entry.tags ?? []).map((t) => t.trim()).filter(Boolean);
  // Tags go into the body so that a search for a tag finds the memory like any other word.
  return tags.length ? `${entry.text}\n\nTags: ${tags.join(", ")}` : entry.text;
}

/**
 * The agent's memories in the local index: upsert one when it is saved or edited, remove it when
 * it is forgotten, or sync the whole set at start-up so the index matches the agent's store.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { defaultSearchConfig, SearchService } from "@a3s/search";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const search = await SearchService.open(store, defaultSearchConfig());
 * await search.memory.upsert({ id: "mem_1", text: "Tests run with deno test -A", tags: ["testing"] });
 * const { results } = await search.search("how are tests run");
 * console.log(results[0].url); // "memory:mem_1"
 * await search.memory.remove("mem_1");
 * await store.close();
 * ```
 */
export class MemoryIndex {
  /** Wraps the local index that holds the memories. */
  constructor(private readonly index: LocalIndex) {}

  /** Indexes one memory, or replaces its earlier version; an unchanged one is not rewritten. */
  async upsert(entry: MemoryEntry): Promise<UpsertOutcome> {
    checkId(entry.id, "id");
    if (typeof entry.text !== "string" || entry.text.trim() === "") {
      throw new ValidationError("a memory needs text", "text");
    }
    const [outcome] = await this.index.upsert([{
      uri: memoryUri(entry.id),
      title: titleOf(entry),
      body: bodyOf(entry),
      source: MEMORY_SOURCE,
    }]);
    return outcome;
  }

  /** Removes a forgotten memory; false when it was not indexed. */
  async remove(id: string): Promise<boolean> {
    checkId(id, "id");
    return await this.index.remove(memoryUri(id)) > 0;
  }

  /** The indexed memories, in URI order. */
  async list(): Promise<IndexedDocument[]> {
    const all: IndexedDocument[] = [];
    for (let offset = 0;; offset += LIST_PAGE) {
      const page = await this.index.list({
        prefix: MEMORY_URI_PREFIX,
        limit: LIST_PAGE,
        offset,
      });
      all.push(...page.filter((doc) => doc.source === MEMORY_SOURCE));
      if (page.length < LIST_PAGE) return all;
    }
  }

  /**
   * Makes the indexed memories exactly `entries`: new and changed ones are written, and those no
   * longer among them removed. Run it when the agent framework starts, so memories saved while
   * the index was unavailable, or forgotten by another process, are reconciled.
   */
  async sync(entries: readonly MemoryEntry[]): Promise<MemorySyncSummary> {
    entries.forEach((entry, i) => checkId(entry.id, `entries[${i}].id`));
    const summary: MemorySyncSummary = { added: 0, updated: 0, unchanged: 0, removed: 0 };
    const wanted = new Set(entries.map((entry) => memoryUri(entry.id)));
    for (const entry of entries) summary[await this.upsert(entry)]++;
    for (const doc of await this.list()) {
      if (!wanted.has(doc.uri)) summary.removed += await this.index.remove(doc.uri);
    }
    return summary;
  }
}
