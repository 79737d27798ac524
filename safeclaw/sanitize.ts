/**
 * Output sanitization: findings become typed, numbered placeholders (`[EMAIL_1]`) kept in a
 * per-session vault so that the originals can be restored where policy allows (LLM Guard's
 * Vault idea), or are masked, hashed or partially masked (`****-****-****-1111`).
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Detection } from "./privacy/entities.ts";

/** How a finding is replaced. */
export const REDACTION_MODES = ["placeholder", "mask", "hash", "partial"] as const;
/** A mode. */
export type RedactionMode = (typeof REDACTION_MODES)[number];

/** A placeholder as the vault writes it: `[EMAIL_1]`. */
export const PLACEHOLDER: RegExp = /\[[A-Z_]+_\d+\]/g;

/** The placeholders (`[EMAIL_1]`) that `text` holds. */
export function placeholdersIn(text: string): Set<string> {
  return new Set(text.match(PLACEHOLDER) ?? []);
}

/** One original behind a placeholder. */
export interface VaultEntry {
  /** `[EMAIL_1]`. */
  placeholder: string;
  /** The finding type it was made for (`email`). */
  type: string;
  /** The original value. */
  value: string;
  /** Where the value was first redacted (default `input`). */
  origin?: VaultOrigin;
  /** When the original stops being restorable, in epoch milliseconds (never when absent). */
  expiresAt?: number;
}

/**
 * Where a vault's value was first redacted: in what the user sent (`input`: the user's own,
 * which a reply may give back), in a reply (`output`: kept from the user, even when a later
 * reply repeats it or its placeholder), or in content from anywhere else (`untrusted`: a tool's
 * result, a web page, a document or an email, which the model reads on the user's behalf but
 * the user never gave; never given back as the user's own).
 */
export type VaultOrigin = "input" | "output" | "untrusted";

/** Whether a value first seen as `actual` is one of `wanted` (any, when unset). */
function fromOrigin(
  actual: VaultOrigin,
  wanted: VaultOrigin | readonly VaultOrigin[] | undefined,
): boolean {
  return wanted === undefined ||
    (typeof wanted === "string" ? actual === wanted : wanted.includes(actual));
}

/** Options of a {@linkcode Vault}. */
export interface VaultOptions {
  /** Entries it starts with (a vault read back from the store). */
  entries?: readonly VaultEntry[];
  /**
   * Placeholders already used and gone (expired): numbering goes on after them too, so a
   * placeholder a user was once given never stands for another value.
   */
  retired?: readonly Pick<VaultEntry, "placeholder" | "type">[];
  /** Called once for each placeholder made (the store persists it). */
  onAdd?: (entry: VaultEntry) => void;
  /** How long a new original stays restorable, in milliseconds (default: for ever). */
  ttlMs?: number;
  /** The clock (tests move it). */
  now?: () => number;
  /**
   * The key of `hash` mode's HMAC for this vault's session (a {@linkcode VaultStore} derives it
   * from the deployment's secret). Without one, a key drawn for this process is used.
   */
  hashKey?: Uint8Array;
}

interface Original {
  type: string;
  value: string;
  origin: VaultOrigin;
  expiresAt: number;
}

/** The number of a placeholder (`[EMAIL_12]`: 12), 0 when it has none. */
function numberOf(placeholder: string): number {
  return Number(/_(\d+)\]$/.exec(placeholder)?.[1] ?? 0);
}

/**
 * Originals behind placeholders, for one session. The same value always gets the same
 * placeholder while it is kept, so a conversation stays coherent. An original past its expiry
 * is forgotten: its placeholder restores nothing, and the value, seen again, gets a new one.
 *
 * @example
 * ```ts
 * import { Vault } from "@a3s/safeclaw";
 * const vault = new Vault();
 * const p = vault.placeholderFor("email", "ada@example.org");
 * console.log(p, vault.restore(`write to ${p}`)); // [EMAIL_1] write to ada@example.org
 * ```
 */
export class Vault {
  #byValue = new Map<string, string>();
  // In order of expiry (entries read back are sorted, new ones expire last), so the expired
  // ones are always at the front and forgetting them stops at the first one still kept.
  #byPlaceholder = new Map<string, Original>();
  // The placeholders of each original value, whatever its type: holds() asks per finding, and a
  // scan of every original made a reply with n values cost n² (8,000 addresses: half a second).
  #placeholdersOf = new Map<string, Set<string>>();
  #counters = new Map<string, number>();
  #onAdd?: (entry: VaultEntry) => void;
  #ttlMs: number;
  #now: () => number;

  /** A vault, empty or holding `options.entries`. */
  constructor(options: VaultOptions = {}) {
    this.#ttlMs = options.ttlMs ?? Infinity;
    this.#now = options.now ?? Date.now;
    this.hashKey = options.hashKey ?? PROCESS_HASH_KEY;
    const entries = [...options.entries ?? []].sort((a, b) =>
      (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity)
    );
    for (const { placeholder, type, value, origin, expiresAt } of entries) {
      this.#byValue.set(`${type}\u0000${value}`, placeholder);
      this.#byPlaceholder.set(placeholder, {
        type,
        value,
        origin: origin ?? "input",
        expiresAt: expiresAt ?? Infinity,
      });
      this.#indexValue(value, placeholder);
      this.#countPast(type, placeholder);
    }
    for (const { type, placeholder } of options.retired ?? []) this.#countPast(type, placeholder);
    this.#onAdd = options.onAdd;
  }

  /** The key `hash` mode's HMAC uses for this vault's values. */
  readonly hashKey: Uint8Array;

  #indexValue(value: string, placeholder: string): void {
    const known = this.#placeholdersOf.get(value);
    if (known) known.add(placeholder);
    else this.#placeholdersOf.set(value, new Set([placeholder]));
  }

  /** Numbering of `type` goes on after `placeholder`'s, so no placeholder is reused. */
  #countPast(type: string, placeholder: string): void {
    const n = numberOf(placeholder);
    if (n > (this.#counters.get(type) ?? 0)) this.#counters.set(type, n);
  }

  /** The original behind `placeholder` while it is kept. */
  #live(placeholder: string): Original | undefined {
    const original = this.#byPlaceholder.get(placeholder);
    return original && original.expiresAt > this.#now() ? original : undefined;
  }

  /** Drops the originals past their expiry (the numbering stays). */
  #forgetExpired(): void {
    const now = this.#now();
    for (const [placeholder, original] of this.#byPlaceholder) {
      if (original.expiresAt > now) break;
      this.#byPlaceholder.delete(placeholder);
      const placeholders = this.#placeholdersOf.get(original.value);
      placeholders?.delete(placeholder);
      if (placeholders?.size === 0) this.#placeholdersOf.delete(original.value);
      const key = `${original.type}\u0000${original.value}`;
      if (this.#byValue.get(key) === placeholder) this.#byValue.delete(key);
    }
  }

  /** The placeholder of `value`, made on first sight (and its origin then fixed). */
  placeholderFor(type: string, value: string, origin: VaultOrigin = "input"): string {
    this.#forgetExpired();
    const key = `${type}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known && this.#live(known)) return known;
    const n = (this.#counters.get(type) ?? 0) + 1;
    this.#counters.set(type, n);
    const placeholder = `[${type.toUpperCase()}_${n}]`;
    const expiresAt = this.#now() + this.#ttlMs;
    this.#byValue.set(key, placeholder);
    this.#byPlaceholder.set(placeholder, { type, value, origin, expiresAt });
    this.#indexValue(value, placeholder);
    this.#onAdd?.({
      placeholder,
      type,
      value,
      origin,
      ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
    });
    return placeholder;
  }

  /** Whether `value` is one of the originals this vault keeps (of `origin` only, if given). */
  holds(value: string, origin?: VaultOrigin | readonly VaultOrigin[]): boolean {
    this.#forgetExpired();
    for (const placeholder of this.#placeholdersOf.get(value) ?? []) {
      const original = this.#live(placeholder);
      if (original && fromOrigin(original.origin, origin)) return true;
    }
    return false;
  }

  /**
   * `text` with every kept placeholder put back (of `origin` only, if given; of those in
   * `only`, if given).
   */
  restore(
    text: string,
    origin?: VaultOrigin | readonly VaultOrigin[],
    only?: ReadonlySet<string>,
  ): string {
    return text.replace(PLACEHOLDER, (p) => {
      const original = this.#live(p);
      return original && fromOrigin(original.origin, origin) && (!only || only.has(p))
        ? original.value
        : p;
    });
  }

  /** The placeholders of the originals kept (of `origin` only, if given). */
  placeholders(origin?: VaultOrigin): Set<string> {
    this.#forgetExpired();
    const out = new Set<string>();
    for (const [placeholder, original] of this.#byPlaceholder) {
      if (!origin || original.origin === origin) out.add(placeholder);
    }
    return out;
  }

  /** When `placeholder`'s original stops being kept (`Infinity`: never; `undefined`: not kept). */
  expiresAt(placeholder: string): number | undefined {
    return this.#live(placeholder)?.expiresAt;
  }

  /** How many originals the vault keeps. */
  get size(): number {
    this.#forgetExpired();
    return this.#byPlaceholder.size;
  }

  /** The vault's kept contents, placeholder and original. */
  entries(): [string, string][] {
    this.#forgetExpired();
    return [...this.#byPlaceholder].map(([placeholder, { value }]) => [placeholder, value]);
  }
}

const EMAIL_SHAPE = /^[^@\s]+@(?:[\p{L}\p{N}-]+\.)+\p{L}{2,}$/u;

/**
 * `value` with its letters and digits masked but for the last few, separators kept. The last
 * four are kept only of a long value, at most a quarter of them, and none of a value of six or
 * fewer: of `10.0.0.1`, `1990-01-01` or a PIN, four are most or all of what matters. An email
 * (of type `email`, or shaped like one when no type is given) keeps its first letter and its
 * domain; another value with an `@` (`P@ssw0rd-…`) is masked like any other.
 *
 * @example
 * ```ts
 * import { partialMask } from "@a3s/safeclaw";
 * console.log(partialMask("4111 1111 1111 1111")); // "**** **** **** 1111"
 * console.log(partialMask("ada@example.org", "email")); // "a**@example.org"
 * console.log(partialMask("P@ssw0rd-Kx81Qz-9931", "secret")); // "*@******-******-9931"
 * ```
 */
export function partialMask(value: string, type?: string): string {
  const at = value.indexOf("@");
  if (at > 0 && (type === undefined ? EMAIL_SHAPE.test(value) : type === "email")) {
    return value[0] + "*".repeat(Math.max(1, at - 1)) + value.slice(at);
  }
  const chars = [...value];
  const alphanumeric = chars.filter((c) => /[\p{L}\p{N}]/u.test(c)).length;
  let keep = alphanumeric <= 6 ? 0 : Math.min(4, Math.floor(alphanumeric / 4));
  for (let i = chars.length - 1; i >= 0; i--) {
    if (/[\p{L}\p{N}]/u.test(chars[i])) {
      if (keep > 0) keep--;
      else chars[i] = "*";
    }
  }
  return chars.join("");
}

/**
 * The key of `hash` mode where no vault gives one: drawn for this process, so a hash is stable
 * within a run and cannot be reversed by hashing every date of birth or SSN, as an unkeyed
 * SHA-256 could.
 */
const PROCESS_HASH_KEY: Uint8Array = randomBytes(32);

function replacement(
  mode: RedactionMode,
  type: string,
  value: string,
  vault: Vault | undefined,
  origin: VaultOrigin,
): string {
  switch (mode) {
    case "placeholder":
      return vault ? vault.placeholderFor(type, value, origin) : `[${type.toUpperCase()}]`;
    case "mask":
      return "*".repeat([...value].length);
    case "hash":
      // Keyed: 48 bits of an unkeyed SHA-256 of a date of birth or an SSN is a table lookup
      // away from the value. An HMAC under the deployment's key (the vault's) keeps equal
      // values equal for correlation while no one without the key can enumerate them.
      return `[${type.toUpperCase()}:${
        createHmac("sha256", vault?.hashKey ?? PROCESS_HASH_KEY).update(value).digest("hex")
          .slice(0, 12)
      }]`;
    case "partial":
      return partialMask(value, type);
  }
}

/**
 * Replaces every finding in `text` (findings ordered, not overlapping); new placeholders are
 * kept in `vault` as of `origin`.
 *
 * @example
 * ```ts
 * import { sanitize } from "@a3s/safeclaw";
 * const text = "card 4111 1111 1111 1111";
 * console.log(sanitize(text, [{ type: "credit_card", start: 5, end: 24 }], "partial"));
 * // "card **** **** **** 1111"
 * ```
 */
export function sanitize(
  text: string,
  findings: readonly Pick<Detection, "type" | "start" | "end">[],
  mode: RedactionMode = "placeholder",
  vault?: Vault,
  origin: VaultOrigin = "input",
): string {
  let out = "";
  let last = 0;
  for (const f of findings) {
    if (f.start < last) continue;
    const value = text.slice(f.start, f.end);
    out += text.slice(last, f.start) + replacement(mode, f.type, value, vault, origin);
    last = f.end;
  }
  return out + text.slice(last);
}
