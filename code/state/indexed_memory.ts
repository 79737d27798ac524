/**
 * Memory that the local search index follows: each memory the agent saves is indexed, and
 * each one it deletes is removed from the index, so a plain `search` (no engine configured,
 * no internet) finds what the agent remembered beside the user's files. The store stays the
 * record; the index is a copy, so a failure to index is reported and never loses a memory.
 */
import type { MemoryAccess, MemoryRecord } from "../tools/services.ts";

/** The slice of search's `MemoryIndex` (`SearchService.memory`) that memory feeds. */
export interface MemorySearchIndex {
  /** Indexes one memory, or replaces its earlier version. */
  upsert(entry: { id: string; text: string; tags?: readonly string[] }): Promise<unknown>;
  /** Removes a forgotten memory. */
  remove(id: string): Promise<unknown>;
}

/** How many of a project's and user's memories are indexed again when an agent starts. */
const CATCH_UP_LIMIT = 1_000;

/**
 * A memory whose saves and deletions are mirrored into a search index.
 *
 * @example
 * ```ts ignore
 * const search = await SearchService.open(store, defaultSearchConfig());
 * const memory = new IndexedMemory(await StoreMemory.open(store, owners), search.memory);
 * await memory.catchUp();
 * ```
 */
export class IndexedMemory implements MemoryAccess {
  /** Mirrors `memory` into `index`; `onIndexError` hears of each write the index refused. */
  constructor(
    private readonly memory: MemoryAccess,
    private readonly index: MemorySearchIndex,
    private readonly onIndexError: (error: unknown, id: string) => void = () => {},
  ) {}

  /**
   * Indexes the memories saved before this index followed them (by another process, or while
   * search was not wired), newest first; unchanged ones are not rewritten.
   */
  async catchUp(): Promise<void> {
    for (const record of await this.memory.list({ limit: CATCH_UP_LIMIT })) {
      await this.#upsert(record);
    }
  }

  /** Saves in the store, then indexes it. */
  async save(scope: "project" | "user", content: string, tags: string[]): Promise<MemoryRecord> {
    const record = await this.memory.save(scope, content, tags);
    await this.#upsert(record);
    return record;
  }

  /** Searches the store (keywords and embeddings), as before. */
  search(
    query: string,
    options: { scope?: "project" | "user"; limit: number },
  ): Promise<MemoryRecord[]> {
    return this.memory.search(query, options);
  }

  /** The newest memories, from the store. */
  list(options: { scope?: "project" | "user"; limit: number }): Promise<MemoryRecord[]> {
    return this.memory.list(options);
  }

  /** Deletes from the store, then from the index. */
  async remove(id: string): Promise<boolean> {
    const removed = await this.memory.remove(id);
    if (removed) {
      try {
        await this.index.remove(id);
      } catch (error) {
        this.onIndexError(error, id);
      }
    }
    return removed;
  }

  /**
   * The store's memory in `namespace`, not mirrored: the local index is one for everyone (the
   * operator's `a3s search`, an agent's `web_search` on the local engine), so a chat's own
   * memories indexed there could be found from another chat. Undefined when the store's memory
   * cannot keep namespaces apart.
   */
  inNamespace(namespace: string): MemoryAccess | undefined {
    return this.memory.inNamespace?.(namespace);
  }

  /** The store's memory without its embedder, still mirrored into the (local) index. */
  keywordOnly(): MemoryAccess | undefined {
    const inner = this.memory.keywordOnly?.();
    return inner && new IndexedMemory(inner, this.index, this.onIndexError);
  }

  async #upsert(record: MemoryRecord): Promise<void> {
    try {
      await this.index.upsert({ id: record.id, text: record.content, tags: record.tags });
    } catch (error) {
      this.onIndexError(error, record.id);
    }
  }
}
