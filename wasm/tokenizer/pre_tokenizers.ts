/**
 * Hugging Face pre-tokenizers. The split patterns of GPT-2, cl100k/Llama-3, Qwen and o200k run
 * natively in the wasm engine; any other pre-tokenizer runs here in JavaScript with the
 * semantics of transformers.js (a fallback for rare configurations, off the common path).
 */
import { A3sError } from "@a3s/common/errors";
import { Split } from "./_engine.ts";

type Config = Record<string, unknown>;

/** How a section of text is cut into pre-tokens. */
export type PreTokenizerPlan =
  | { kind: "native"; split: number; prefixSpace: boolean }
  | { kind: "js"; run: (text: string, sectionIndex: number) => string[] };

const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
const CL100K_PATTERN =
  `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN_PATTERN =
  `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const O200K_PATTERN = [
  `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+${CONTRACTIONS}?`,
  `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*${CONTRACTIONS}?`,
  `\\p{N}{1,3}`,
  ` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`,
  `\\s*[\\r\\n]+`,
  `\\s+(?!\\S)`,
  `\\s+`,
].join("|");

const NATIVE_PATTERNS = new Map<string, number>([
  [GPT2_PATTERN, Split.gpt2],
  [CL100K_PATTERN, Split.cl100k],
  [QWEN_PATTERN, Split.qwen],
  [O200K_PATTERN, Split.o200k],
]);

const PUNCTUATION = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";

function unsupported(what: string): A3sError {
  return new A3sError("unsupported_tokenizer", `unsupported pre-tokenizer ${what}`, {
    status: 400,
    field: "pre_tokenizer",
  });
}

function flatten(config: Config | null | undefined): Config[] {
  if (!config) return [];
  if (config.type === "Sequence") {
    return ((config.pretokenizers as Config[]) ?? []).flatMap(flatten);
  }
  return [config];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** transformers.js's createPattern: Python-only syntax rewritten for JavaScript. */
function createPattern(pattern: Config, invert: boolean): RegExp {
  if (typeof pattern.Regex === "string") {
    const regex = pattern.Regex.replace(/\\([#&~])/g, "$1").replaceAll(
      CONTRACTIONS,
      "(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))",
    );
    return new RegExp(regex, "gu");
  }
  if (typeof pattern.String === "string") {
    const escaped = escapeRegExp(pattern.String);
    return new RegExp(invert ? escaped : `(${escaped})`, "gu");
  }
  throw unsupported("pattern (needs String or Regex)");
}

function regexSplit(text: string, regex: RegExp): string[] {
  const result: string[] = [];
  let prev = 0;
  for (const match of text.matchAll(regex)) {
    const full = match[0];
    if (prev < match.index) result.push(text.slice(prev, match.index));
    if (full.length > 0) result.push(full);
    prev = match.index + full.length;
  }
  if (prev < text.length) result.push(text.slice(prev));
  return result;
}

type Step = (text: string, sectionIndex: number) => string[];

function jsStep(config: Config): Step {
  switch (config.type) {
    case "ByteLevel": {
      const prefix = config.add_prefix_space === true;
      const useRegex = config.use_regex !== false;
      const pattern = new RegExp(GPT2_PATTERN, "gu");
      return (text) => {
        if (prefix && !text.startsWith(" ")) text = " " + text;
        return useRegex ? text.match(pattern) ?? [] : [text];
      };
    }
    case "Split": {
      const invert = config.invert === true;
      const pattern = createPattern(config.pattern as Config, invert);
      const behavior = String(config.behavior ?? "").toLowerCase();
      return (text) => {
        if (invert) return text.match(pattern) ?? [];
        if (behavior === "removed") return text.split(pattern).filter((x) => x);
        return regexSplit(text, pattern);
      };
    }
    case "Whitespace":
      return (text) => text.match(/\w+|[^\w\s]+/g) ?? [];
    case "WhitespaceSplit":
      return (text) => text.match(/\S+/g) ?? [];
    case "BertPreTokenizer": {
      const pattern = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, "gu");
      return (text) => text.trim().match(pattern) ?? [];
    }
    case "Punctuation": {
      const pattern = new RegExp(`[^${PUNCTUATION}]+|[${PUNCTUATION}]+`, "gu");
      return (text) => text.match(pattern) ?? [];
    }
    case "Digits": {
      const pattern = new RegExp(`[^\\d]+|\\d${config.individual_digits ? "" : "+"}`, "gu");
      return (text) => text.match(pattern) ?? [];
    }
    case "Metaspace": {
      const replacement = String(config.replacement ?? "\u2581");
      const strRep = String(config.str_rep ?? replacement);
      const addPrefix = config.add_prefix_space === true;
      const scheme = String(config.prepend_scheme ?? "always");
      return (text, sectionIndex) => {
        let normalized = text.replaceAll(" ", strRep);
        if (
          addPrefix && !normalized.startsWith(replacement) &&
          (scheme === "always" || (scheme === "first" && sectionIndex === 0))
        ) {
          normalized = strRep + normalized;
        }
        return [normalized];
      };
    }
    default:
      throw unsupported(`'${config.type}'`);
  }
}

/** Chooses the native splitter when the configuration is one it implements, else JavaScript. */
export function planPreTokenizer(config: Config | null | undefined): PreTokenizerPlan {
  const steps = flatten(config);
  if (steps.length === 0) return { kind: "native", split: Split.none, prefixSpace: false };
  const [first, second] = steps;
  if (steps.length === 1 && first.type === "ByteLevel") {
    return {
      kind: "native",
      split: first.use_regex === false ? Split.none : Split.gpt2,
      prefixSpace: first.add_prefix_space === true,
    };
  }
  if (
    steps.length === 2 && first.type === "Split" && second.type === "ByteLevel" &&
    // The native patterns match every character, so keeping the matches (invert) and
    // isolating them are the same split; removing them is not.
    (first.invert === true || String(first.behavior).toLowerCase() !== "removed") &&
    second.use_regex === false && second.add_prefix_space !== true
  ) {
    const regex = (first.pattern as Config)?.Regex;
    const split = typeof regex === "string" ? NATIVE_PATTERNS.get(regex) : undefined;
    if (split !== undefined) return { kind: "native", split, prefixSpace: false };
  }
  const run = steps.map(jsStep);
  return {
    kind: "js",
    run: (text, sectionIndex) =>
      run.reduce<string[]>((pieces, step) => pieces.flatMap((p) => step(p, sectionIndex)), [
        text,
      ]),
  };
}
