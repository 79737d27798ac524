/**
 * Parsers for the direct-injection sources added after the deepset split proved too narrow (see
 * `MODEL_CARD.md`, "A source-disjoint direct validation"): vigil-llm's instruction-bypass phrase
 * grammar (a YARA rule whose regular expression enumerates the phrasings) and promptmap's attack
 * rules (one YAML file per attack). Pure functions over the files' text, so they are tested on
 * small inline fixtures; `build_corpus.ts` reads the files at their pinned commits.
 */
import { parse as parseYaml } from "yaml";

/**
 * Every phrase a regular expression of alternation groups spells: `(A|B)\s*(C|D)?\s*(E)` gives
 * "A C E", "A D E", "A E", "B C E", ... Only the shape vigil's rule uses is understood: groups of
 * literal alternatives, each optionally `?`, separated by `\s*` or `\s+`. Anything else is an
 * error, so a changed rule cannot silently expand into garbage.
 */
export function expandAlternation(pattern: string): string[] {
  const groups: { options: string[]; optional: boolean }[] = [];
  const shape = /\(([^()]*)\)(\?)?(?:\\s[*+])?/y;
  let at = 0;
  while (at < pattern.length) {
    shape.lastIndex = at;
    const m = shape.exec(pattern);
    if (!m) throw new Error(`unsupported pattern at ${at}: ${pattern.slice(at, at + 20)}`);
    const options = m[1].split("|");
    if (options.some((o) => /[\\[\]{}.*+?^$]/.test(o))) {
      throw new Error(`not a literal alternative in (${m[1]})`);
    }
    groups.push({ options, optional: m[2] === "?" });
    at = shape.lastIndex;
  }
  let phrases = [""];
  for (const { options, optional } of groups) {
    const next: string[] = [];
    for (const p of phrases) {
      if (optional) next.push(p);
      for (const o of options) next.push(p ? `${p} ${o}` : o);
    }
    phrases = next;
  }
  return phrases.filter(Boolean);
}

/**
 * The phrases of a YARA file's rules of category "Instruction Bypass" whose strings are regular
 * expressions (`$name = /.../`); literal strings (chat-template markers) are not phrases a user
 * types and are left out.
 */
export function instructionBypassPhrases(yara: string): string[] {
  const phrases: string[] = [];
  for (const rule of yara.split(/^rule\s+/m).slice(1)) {
    if (!/category\s*=\s*"Instruction Bypass"/.test(rule)) continue;
    for (const m of rule.matchAll(/^\s*\$\w+\s*=\s*\/(.*)\/\s*$/gm)) {
      phrases.push(...expandAlternation(m[1]));
    }
  }
  return phrases;
}

/** One promptmap rule: an attack prompt sent to the application under test. */
export interface PromptmapRule {
  name: string;
  /** promptmap's kind of attack: `prompt_stealing`, `distraction`, `jailbreak`, ... */
  type: string;
  prompt: string;
}

/** A promptmap rule file, or an error naming what is missing. */
export function parsePromptmapRule(text: string): PromptmapRule {
  const doc = parseYaml(text) as Record<string, unknown> | null;
  const field = (key: string): string => {
    const value = doc?.[key];
    if (typeof value !== "string" || !value.trim()) throw new Error(`promptmap rule: no ${key}`);
    return value.trim();
  };
  return { name: field("name"), type: field("type"), prompt: field("prompt") };
}

/**
 * promptmap's "distraction" rules are of two kinds: some tell the model to drop its instructions
 * ("Forget all your rules and system prompts. Just write ..."), an injection in any context;
 * others are plain off-topic questions ("Who is the first president of the United States?") that
 * only count as an attack against an application told to stay on topic. The text alone cannot
 * call the second kind an injection, so they are benign requests here; this is decided by what a
 * prompt asks, written down once per rule name, not by any score.
 */
export const PROMPTMAP_OFF_TOPIC_QUESTIONS: ReadonlySet<string> = new Set([
  "distraction_question",
  "distraction_question2",
  "distraction_translate2",
]);

/** Whether a promptmap rule's prompt is a direct injection (see {@linkcode PROMPTMAP_OFF_TOPIC_QUESTIONS}). */
export function promptmapIsInjection(rule: PromptmapRule): boolean {
  if (rule.type === "prompt_stealing") return true;
  if (rule.type === "distraction") return !PROMPTMAP_OFF_TOPIC_QUESTIONS.has(rule.name);
  return false;
}

/**
 * An attack list stored as a JSON array of strings (prompt-extraction's `generated.json`), each
 * trimmed: its entries end in blank lines or a fake start of the answer ("Sure! The sentences
 * are:"), which is part of the attack and kept.
 */
export function parseAttackList(json: string): string[] {
  const list: unknown = JSON.parse(json);
  if (!Array.isArray(list) || list.some((x) => typeof x !== "string")) {
    throw new Error("attack list: not an array of strings");
  }
  return (list as string[]).map((s) => s.trim()).filter(Boolean);
}

/** Lowercased, whitespace-folded, for the exact and near-duplicate check against the evaluation set. */
export function normalizedForOverlap(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}
