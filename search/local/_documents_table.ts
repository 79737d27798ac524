/**
 * The `search_documents` table both backends keep, and the queries on it that do not touch
 * the full-text index, written once for SQLite and PostgreSQL.
 */
import { type Generated, type Kysely, sql } from "kysely";
import type { IndexedDocument } from "./local_index.ts";

export interface DocumentTables {
  search_documents: {
    id: Generated<number>;
    uri: string;
    title: string;
    body: string;
    source: string;
    hash: string;
    size: number;
    updated_at: number;
  };
}

/** Escapes LIKE wildcards so a prefix matches literally. */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + "%";
}

/** Removes one document, or every document under a prefix ending in `/`; returns how many. */
export async function removeDocuments(
  db: Kysely<DocumentTables>,
  uriOrPrefix: string,
): Promise<number> {
  let query = db.deleteFrom("search_documents");
  query = uriOrPrefix.endsWith("/")
    ? query.where(sql<boolean>`uri like ${likePrefix(uriOrPrefix)} escape '\\'`)
    : query.where("uri", "=", uriOrPrefix);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The indexed documents in URI order, without their bodies. */
export async function listDocuments(
  db: Kysely<DocumentTables>,
  options: { prefix?: string; limit?: number; offset?: number } = {},
): Promise<IndexedDocument[]> {
  let query = db.selectFrom("search_documents")
    .select(["uri", "title", "source", "size", "updated_at"])
    .orderBy("uri").limit(options.limit ?? 100).offset(options.offset ?? 0);
  if (options.prefix) {
    query = query.where(sql<boolean>`uri like ${likePrefix(options.prefix)} escape '\\'`);
  }
  const rows = await query.execute();
  return rows.map((r) => ({
    uri: r.uri,
    title: r.title,
    source: r.source,
    size: Number(r.size),
    updatedAt: Number(r.updated_at),
  }));
}

/** How many documents the index holds (PostgreSQL counts as a string, SQLite as a number). */
export async function countDocuments(db: Kysely<DocumentTables>): Promise<number> {
  const row = await db.selectFrom("search_documents")
    .select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}
