/**
 * The transactions the durable scheduler writes in, and the one lock that orders claims,
 * job endings and dependency checks across processes.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { StoreKind } from "@a3s/common";
import type { LaneTables } from "./_schema.ts";

/** A connection or a transaction on the lane tables. */
export type Conn = Kysely<LaneTables> | Transaction<LaneTables>;

/** The PostgreSQL advisory lock key of the lane scheduler. */
const CLAIM_LOCK = 0x1a3e5;

/**
 * Serializes dependency checks with the writes that end a job (dead, cancelled) and cancel
 * its dependents. Without it a submission could read its dependency as alive, the dependency
 * could die and cancel the dependents it sees, and then the submission commit a job that
 * waits forever. On SQLite every write transaction is already serialized.
 */
export async function lockDependencyGraph(conn: Conn, kind: StoreKind): Promise<void> {
  if (kind !== "postgres") return;
  await sql`select pg_advisory_xact_lock(${sql.lit(CLAIM_LOCK)})`.execute(conn);
}

/**
 * Runs `fn` in a transaction that holds the claim lock from its start: SQLite's write lock,
 * or PostgreSQL's advisory lock, under which running leases are counted against the limits.
 */
export async function claimTransaction<T>(
  db: Kysely<LaneTables>,
  kind: StoreKind,
  fn: (conn: Conn) => Promise<T>,
): Promise<T> {
  return await db.connection().execute(async (conn) => {
    // on PostgreSQL the transaction opens with the claim lock held, in one round trip
    const begin = kind === "sqlite"
      ? "begin immediate"
      : `begin; select pg_advisory_xact_lock(${CLAIM_LOCK})`;
    await sql`${sql.raw(begin)}`.execute(conn);
    try {
      const out = await fn(conn);
      await sql`commit`.execute(conn);
      return out;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw error;
    }
  });
}
