/**
 * Sessions kept per key across turns (a chat of safeclaw's channels, an end user of the
 * chat-completions route), closed once idle and reopened on the same id by the key's next turn.
 * A long-running serve would otherwise hold every chat it ever answered: its box until the cap
 * evicted it, and its folder out of the sweep for good, since an open session's folder is never
 * removed.
 */

/** What a kept session must tell: its id, to reopen its conversation, and whether a turn runs. */
export interface KeptSession {
  readonly id: string;
  readonly busy: boolean;
}

/** A session held for a turn: it is not closed before `release` (a second call does nothing). */
export interface HeldSession<S> {
  session: S;
  release(): void;
}

/** What {@linkcode KeptSessions} takes. */
export interface KeptSessionsOptions<S> {
  /** Closes a session gone idle (its box goes, its folder may be swept). */
  close(session: S): Promise<void>;
  /**
   * False once the session was closed by other means (an HTTP `DELETE`): the key's next turn
   * reopens it, and no idle close runs on it. Always open when unset.
   */
  isOpen?(session: S): boolean;
  /** How many closed conversations' ids are kept ({@linkcode REMEMBERED_CONVERSATIONS}). */
  rememberedConversations?: number;
}

/** One key's conversation. */
interface Kept<S> {
  key: string;
  /** The id of the key's conversation, kept after its session closes so it can go on. */
  id?: string;
  session?: S;
  opening?: Promise<S>;
  closing?: Promise<void>;
  /** Turns holding the session: none is closed under a turn. */
  holds: number;
  idleMs: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Sessions by key that close once no turn has held them for their idle time.
 *
 * @example
 * ```ts ignore
 * const kept = new KeptSessions({ close: (s: AgentSession) => s.close() });
 * const held = await kept.hold("1:telegram:1", 30 * 60_000, (id) => Promise.resolve(agent.session({ id })));
 * try {
 *   await held.session.send("hello");
 * } finally {
 *   held.release();
 * }
 * ```
 */
/**
 * How many closed conversations' ids are remembered, the least recently closed forgotten first:
 * every chat ever answered would otherwise stay in memory. A forgotten one's next turn opens with
 * no id, as after a restart; the opener may know the key's conversation by other means (the code
 * module's sessions take an id derived from the key).
 */
export const REMEMBERED_CONVERSATIONS = 10_000;

export class KeptSessions<S extends KeptSession> {
  readonly #kept = new Map<string, Kept<S>>();
  /** Ids of conversations whose sessions closed, by key, oldest first. */
  readonly #closedIds = new Map<string, string>();
  #closed = false;

  constructor(private readonly options: KeptSessionsOptions<S>) {}

  /**
   * Holds the session of `key` for a turn, opening it with `open` when none is: `open` gets the
   * id the key's conversation had (undefined for a new one), so a session closed idle reopens on
   * the same conversation. Once released by its last turn, it closes after `idleMs` without
   * one; 0 keeps it open.
   */
  async hold(
    key: string,
    idleMs: number,
    open: (id: string | undefined) => Promise<S>,
  ): Promise<HeldSession<S>> {
    if (this.#closed) throw new Error("the kept sessions are closed");
    const entry = this.#kept.get(key) ?? { key, holds: 0, idleMs, id: this.#closedIds.get(key) };
    this.#kept.set(key, entry);
    this.#closedIds.delete(key);
    entry.idleMs = idleMs;
    // Counted before anything is awaited, so an idle close cannot start under this turn.
    entry.holds++;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.holds--;
      this.#arm(entry);
    };
    try {
      // The close under way releases the key's box and folder: the reopened session must take
      // them after it, not have them released under it.
      while (entry.closing) await entry.closing;
      return { session: await this.#session(entry, open), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The open session of `key`, if any. */
  get(key: string): S | undefined {
    const session = this.#kept.get(key)?.session;
    return session && this.#isOpen(session) ? session : undefined;
  }

  /** Stops the idle clocks and waits for the closes under way; the sessions are left to their owner. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const kept of this.#kept.values()) {
      clearTimeout(kept.timer);
      kept.timer = undefined;
      if (kept.closing) closing.push(kept.closing);
    }
    await Promise.all(closing);
  }

  #isOpen(session: S): boolean {
    return this.options.isOpen?.(session) ?? true;
  }

  #session(kept: Kept<S>, open: (id: string | undefined) => Promise<S>): Promise<S> {
    if (kept.session && this.#isOpen(kept.session)) return Promise.resolve(kept.session);
    kept.session = undefined;
    // Two turns at once open one session between them.
    kept.opening ??= open(kept.id).then((session) => {
      kept.session = session;
      kept.id = session.id;
      return session;
    }).finally(() => (kept.opening = undefined));
    return kept.opening;
  }

  /** Starts `kept`'s idle clock, when no turn holds it. */
  #arm(kept: Kept<S>): void {
    clearTimeout(kept.timer);
    kept.timer = undefined;
    if (this.#closed || kept.holds > 0 || kept.idleMs <= 0 || !kept.session) return;
    kept.timer = setTimeout(() => this.#closeIdle(kept), kept.idleMs);
    // An idle clock alone must not keep the process alive.
    Deno.unrefTimer(kept.timer);
  }

  #closeIdle(kept: Kept<S>): void {
    kept.timer = undefined;
    const session = kept.session;
    if (this.#closed || kept.holds > 0 || !session) return;
    if (!this.#isOpen(session)) {
      kept.session = undefined;
      return;
    }
    // A turn run on it by other means (the HTTP API lists chat sessions) holds it too.
    if (session.busy) return this.#arm(kept);
    kept.session = undefined;
    kept.closing = this.options.close(session)
      // A failed close is not retried: the session is forgotten either way, and the key's next
      // turn opens one anew on the same conversation.
      .catch(() => {})
      .finally(() => {
        kept.closing = undefined;
        this.#forgetClosed(kept);
      });
  }

  /** Keeps only the id of a closed, unheld conversation, within the remembered number. */
  #forgetClosed(kept: Kept<S>): void {
    if (kept.holds > 0 || kept.session || kept.opening || this.#kept.get(kept.key) !== kept) return;
    this.#kept.delete(kept.key);
    if (kept.id === undefined) return;
    this.#closedIds.set(kept.key, kept.id);
    const limit = this.options.rememberedConversations ?? REMEMBERED_CONVERSATIONS;
    for (const oldest of this.#closedIds.keys()) {
      if (this.#closedIds.size <= limit) break;
      this.#closedIds.delete(oldest);
    }
  }
}
