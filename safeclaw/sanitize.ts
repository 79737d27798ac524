/**
 * Output sanitization: findings become typed, numbered placeholders (`[EMAIL_1]`) kept in a
 * per-session vault so that the originals can be restored where policy allows (LLM Guard's
 * Vault idea), or are masked, hashed or partially masked (`****-****-****-1111`).
 */
import { createHash } from "node:crypto";
import type { Detection } from "./privacy/entities.ts";

/** How a finding is replaced. */
export const REDACTION_MODES = ["placeholder", "mask", "hash", "partial"] as const;
/** A mode. */
export type RedactionMode = (typeof REDACTION_MODES)[number];

/** A placeholder as the vault writes it: `[EMAIL_1]`. */
const PLACEHOLDER = /\[[A-Z_]+_\d+\]/g;

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
}

/**
 * Where a vault's value was first redacted: in what the user sent (`input`: the user's own,
 * which a reply may give back) or in a reply (`output`: kept from the user, even when a later
 * reply repeats it or its placeholder).
 */
export type VaultOrigin = "input" | "output";

/** Options of a {@linkcode Vault}. */
export interface VaultOptions {
  /** Entries it starts with (a vault read back from the store). */
  entries?: readonly VaultEntry[];
  /** Called once for each placeholder made (the store persists it). */
  onAdd?: (entry: VaultEntry) => void;
}

/**
 * Originals behind placeholders, for one session. The same value always gets the same
 * placeholder, so a conversation stays coherent.
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
  #byPlaceholder = new Map<string, string>();
  #origins = new Map<string, VaultOrigin>();
  #counters = new Map<string, number>();
  #onAdd?: (entry: VaultEntry) => void;

  /** A vault, empty or holding `options.entries`. */
  constructor(options: VaultOptions = {}) {
    for (const { placeholder, type, value, origin } of options.entries ?? []) {
      this.#byValue.set(`${type}\u0000${value}`, placeholder);
      this.#byPlaceholder.set(placeholder, value);
      this.#origins.set(placeholder, origin ?? "input");
      // Numbering goes on after the highest number read back, so no placeholder is reused.
      const n = Number(/_(\d+)\]$/.exec(placeholder)?.[1] ?? 0);
      if (n > (this.#counters.get(type) ?? 0)) this.#counters.set(type, n);
    }
    this.#onAdd = options.onAdd;
  }

  /** The placeholder of `value`, made on first sight (and its origin then fixed). */
  placeholderFor(type: string, value: string, origin: VaultOrigin = "input"): string {
    const key = `${type}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known) return known;
    const n = (this.#counters.get(type) ?? 0) + 1;
    this.#counters.set(type, n);
    const placeholder = `[${type.toUpperCase()}_${n}]`;
    this.#byValue.set(key, placeholder);
    this.#byPlaceholder.set(placeholder, value);
    this.#origins.set(placeholder, origin);
    this.#onAdd?.({ placeholder, type, value, origin });
    return placeholder;
  }

  /** Whether `value` is one of the originals this vault holds (of `origin` only, if given). */
  holds(value: string, origin?: VaultOrigin): boolean {
    for (const [placeholder, original] of this.#byPlaceholder) {
      if (original === value && (!origin || this.#origins.get(placeholder) === origin)) return true;
    }
    return false;
  }

  /**
   * `text` with every known placeholder put back (of `origin` only, if given; of those in
   * `only`, if given).
   */
  restore(text: string, origin?: VaultOrigin, only?: ReadonlySet<string>): string {
    return text.replace(PLACEHOLDER, (p) => {
      const original = this.#byPlaceholder.get(p);
      return original !== undefined && (!origin || this.#origins.get(p) === origin) &&
          (!only || only.has(p))
        ? original
        : p;
    });
  }

  /** How many values the vault holds. */
  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** The vault's contents, for persisting. */
  entries(): [string, string][] {
    return [...this.#byPlaceholder.entries()];
  }
}

/** `value` with everything but its last four letters or digits masked, separators kept. */
export function partialMask(value: string): string {
  let keep = 4;
  const chars = [...value];
  for (let i = chars.length - 1; i >= 0; i--) {
    if (/[\p{L}\p{N}]/u.test(chars[i])) {
      if (keep > 0) keep--;
      else chars[i] = "*";
    }
  }
  // An email keeps its domain and the first letter: a****@example.org.
  const at = value.indexOf("@");
  if (at > 0) return value[0] + "*".repeat(Math.max(1, at - 1)) + value.slice(at);
  return chars.join("");
}

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
      return `[${type.toUpperCase()}:${
        createHash("sha256").update(value).digest("hex").slice(0, 12)
      }]`;
    case "partial":
      return partialMask(value);
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
 * console.log(sanitize(text, [{ type: "credit_card", start: 5, end: 24, confidence: 1 }], "partial"));
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
