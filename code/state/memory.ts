/**
 * Long-term memory per project and per user in the shared store. Search ranks by keyword
 * overlap, and by cosine similarity of embeddings when an embedding function (power's
 * `/v1/embeddings`) is available; both scores blend when it is. Each memory belongs to a
 * namespace: '' is the agent's shared memory (CLI and HTTP sessions, and every memory saved
 * before namespaces existed); a chat of a channel has its own, named by its key, so what one
 * chat user tells the agent is never recalled in another's chat.
 */
import type { Store } from "@a3s/common";
import type { MemoryAccess, MemoryRecord } from "../tools/services.ts";
import { CODE_MIGRATIONS, type CodeTables } from "./migrations.ts";

/** Turns texts into vectors; absent means keyword search only. */
export type EmbedFunction = (texts: string[]) => Promise<number[][]>;

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 1));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** Embeddings from an OpenAI-compatible `/v1/embeddings` (power serves one). */
export function openAiEmbeddings(baseUrl: string, model: string, apiKey?: string): EmbedFunction {
  return async (texts) => {
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/embeddings`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body: JSON.stringify({ model, input: texts }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`embeddings: HTTP ${res.status}`);
    const json = await res.json() as { data: { embedding: number[]; index: number }[] };
    return json.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
  };
}

/**
 * The memory of one project and one user.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { StoreMemory } from "./memory.ts";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const memory = await StoreMemory.open(store, { project: "/src/app", user: "ada" });
 * await memory.save("project", "tests run with deno task test", ["testing"]);
 * console.log(await memory.search("how to run tests", { limit: 3 }));
 * ```
 */
export class StoreMemory implements MemoryAccess {
  private constructor(
    private readonly store: Store,
    private readonly owners: { project: string; user: string },
    private readonly embed?: EmbedFunction,
    /** '' for the agent's shared memory, else a session's own (a chat's key). */
    readonly namespace: string = "",
  ) {}

  /** Opens memory on `store`, creating its tables when missing. `owners` are the project and user keys memories are filed under; `embed` adds semantic search (keyword search only without it). */
  static async open(
    store: Store,
    owners: { project: string; user: string },
    embed?: EmbedFunction,
  ): Promise<StoreMemory> {
    await store.migrate("code", CODE_MIGRATIONS);
    return new StoreMemory(store, owners, embed);
  }

  /** The same memory seen from `namespace` (non-empty): saves go there, and nothing else is seen. */
  inNamespace(namespace: string): StoreMemory {
    if (!namespace) throw new Error("a memory namespace may not be empty");
    return new StoreMemory(this.store, this.owners, this.embed, namespace);
  }

  /** The same memory and namespace with no embedder: nothing goes to the embedding model. */
  keywordOnly(): StoreMemory {
    return new StoreMemory(this.store, this.owners, undefined, this.namespace);
  }

  /** Typed access to this module's tables. */
  get #db() {
    return this.store.db<CodeTables>();
  }

  /** The embedding of `text`; undefined without an embedder or when it fails. */
  private async vector(text: string): Promise<number[] | undefined> {
    if (!this.embed) return undefined;
    try {
      return (await this.embed([text]))[0];
    } catch {
      return undefined; // Power may be down; keyword search still works.
    }
  }

  /** Saves a memory in `scope`, embedding it when it can. */
  async save(scope: "project" | "user", content: string, tags: string[]): Promise<MemoryRecord> {
    const record: MemoryRecord = {
      id: `mem_${crypto.randomUUID().slice(0, 12)}`,
      scope,
      content,
      tags,
      createdAt: Date.now(),
    };
    const embedding = await this.vector(content);
    await this.#db.insertInto("code_memories").values({
      id: record.id,
      namespace: this.namespace,
      scope,
      owner: this.owners[scope],
      content,
      tags: JSON.stringify(tags),
      embedding: embedding ? JSON.stringify(embedding) : null,
      created_at: record.createdAt,
    }).execute();
    return record;
  }

  /** This namespace's memories of this project and user (or one scope's), newest first. */
  async #rows(scope: "project" | "user" | undefined) {
    let q = this.#db.selectFrom("code_memories").selectAll().where(
      "namespace",
      "=",
      this.namespace,
    );
    q = scope
      ? q.where("scope", "=", scope).where("owner", "=", this.owners[scope])
      : q.where((eb) =>
        eb.or([
          eb.and([eb("scope", "=", "project"), eb("owner", "=", this.owners.project)]),
          eb.and([eb("scope", "=", "user"), eb("owner", "=", this.owners.user)]),
        ])
      );
    return await q.orderBy("created_at", "desc").execute();
  }

  /** A stored row as a memory record, with its search score when given. */
  private toRecord(r: CodeTables["code_memories"], score?: number): MemoryRecord {
    return {
      id: r.id,
      scope: r.scope as "project" | "user",
      content: r.content,
      tags: JSON.parse(r.tags),
      createdAt: Number(r.created_at),
      ...(score !== undefined ? { score: Math.round(score * 1000) / 1000 } : {}),
    };
  }

  /** Memories matching `query`, best first: keyword overlap, blended with embedding similarity when available. */
  async search(
    query: string,
    options: { scope?: "project" | "user"; limit: number },
  ): Promise<MemoryRecord[]> {
    const rows = await this.#rows(options.scope);
    const q = words(query);
    const qv = await this.vector(query);
    const scored = rows.map((r) => {
      const w = words(`${r.content} ${JSON.parse(r.tags).join(" ")}`);
      const overlap = q.size ? [...q].filter((x) => w.has(x)).length / q.size : 0;
      const sim = qv && r.embedding ? cosine(qv, JSON.parse(r.embedding)) : undefined;
      return { r, score: sim === undefined ? overlap : 0.5 * overlap + 0.5 * Math.max(0, sim) };
    }).filter((x) => x.score > 0.05).sort((a, b) => b.score - a.score);
    return scored.slice(0, options.limit).map((x) => this.toRecord(x.r, x.score));
  }

  /** The newest memories, at most `limit`, of one scope or both. */
  async list(options: { scope?: "project" | "user"; limit: number }): Promise<MemoryRecord[]> {
    return (await this.#rows(options.scope)).slice(0, options.limit).map((r) => this.toRecord(r));
  }

  /** Deletes a memory of this namespace, project or user; false when there was none. */
  async remove(id: string): Promise<boolean> {
    const r = await this.#db.deleteFrom("code_memories").where("id", "=", id)
      .where("namespace", "=", this.namespace)
      .where((eb) =>
        eb.or([eb("owner", "=", this.owners.project), eb("owner", "=", this.owners.user)])
      ).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
