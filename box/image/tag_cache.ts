/**
 * The image each tag names, kept in memory: the tag lookup is a store query on every box's
 * start path (about 0.3 ms of Deno and SQLite work on this host). Another process on the same
 * data dir (the CLI beside `serve`) may pull, tag, load or remove an image at any time, so the
 * cache is only as good as its check: every writer appends a byte to a marker file beside the
 * SQLite database after it changes the image tables, and a reader compares the marker's inode
 * and size (one stat) with what they were when the cache was filled. Appending makes each
 * change grow the size, so no two states look alike; when the marker grows large a writer
 * replaces it, and the new inode tells readers too.
 *
 * Only a store in a SQLite file gets a cache. On PostgreSQL several hosts may share the tables,
 * and no file tells one host of another's writes; in `:memory:` nothing outside the process can
 * see the marker, and tests open several stores on one database.
 */
import type { Store } from "@a3s/common";
import type { ImageRow } from "../schema.ts";

/** Past this size the next writer starts a fresh marker. */
const MARKER_LIMIT = 4096;

/** The rows found by tag since the image tables last changed, in any process. */
export class TagCache {
  readonly #marker: string | undefined;
  readonly #rows = new Map<string, ImageRow>();
  #stamp = "";

  /** A cache for `store`'s image tags; a no-op where the store is not a SQLite file. */
  constructor(store: Store) {
    this.#marker = store.kind === "sqlite" && store.location !== ":memory:"
      ? `${store.location}-box-images-changed`
      : undefined;
  }

  /** The marker's identity now: its inode and size (or that there is none yet). */
  #read(): string {
    try {
      const info = Deno.statSync(this.#marker!);
      return `${info.ino}:${info.size}`;
    } catch {
      return "none";
    }
  }

  /**
   * The row cached for a canonical tag, if the image tables have not changed since it was
   * cached; otherwise undefined (and the cache starts over). Also returns the stamp to pass to
   * {@linkcode set} with a row looked up now.
   */
  get(ref: string): { row?: ImageRow; stamp: string } {
    if (!this.#marker) return { stamp: "" };
    const stamp = this.#read();
    if (stamp !== this.#stamp) {
      this.#rows.clear();
      this.#stamp = stamp;
    }
    return { row: this.#rows.get(ref), stamp };
  }

  /**
   * Caches a row found by tag, if nothing changed since `stamp` was read (before the lookup):
   * a row read across a change is not kept.
   */
  set(ref: string, row: ImageRow, stamp: string): void {
    if (this.#marker && stamp === this.#stamp) this.#rows.set(ref, row);
  }

  /** Tells every process's cache that the image tables changed (after the change is stored). */
  changed(): void {
    this.#rows.clear();
    if (!this.#marker) return;
    try {
      if (Deno.statSync(this.#marker).size >= MARKER_LIMIT) {
        const fresh = `${this.#marker}.${crypto.randomUUID()}`;
        Deno.writeFileSync(fresh, new Uint8Array(1));
        Deno.renameSync(fresh, this.#marker);
        return;
      }
    } catch { /* no marker yet: the append below makes it */ }
    Deno.writeFileSync(this.#marker, new Uint8Array(1), { append: true, create: true });
  }
}
