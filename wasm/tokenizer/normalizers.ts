/**
 * Hugging Face normalizers, with the semantics of transformers.js. They run in JavaScript on
 * each text section before it reaches the wasm engine: `String.prototype.normalize` is native
 * and the rest are rare outside BERT-style models.
 */
import { A3sError } from "@a3s/common/errors";

/** A normalizer: text in, text out. */
export type Normalizer = (text: string) => string;

type Config = Record<string, unknown>;

function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

const CONTROL = /^\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}$/u;
const SINGLE_SPACE = /^\s$/;
const NONSPACING_MARK = /\p{Mn}/gu;

function stripAccents(text: string): string {
  return text.normalize("NFD").replace(NONSPACING_MARK, "");
}

function bertNormalizer(config: Config): Normalizer {
  return (text) => {
    if (config.clean_text) {
      let out = "";
      for (const char of text) {
        const cp = char.charCodeAt(0);
        const control = char !== "\t" && char !== "\n" && char !== "\r" && CONTROL.test(char);
        if (cp === 0 || cp === 0xfffd || control) continue;
        out += SINGLE_SPACE.test(char) ? " " : char;
      }
      text = out;
    }
    if (config.handle_chinese_chars) {
      let out = "";
      for (let i = 0; i < text.length; i++) {
        const char = text[i];
        out += isChineseChar(char.charCodeAt(0)) ? ` ${char} ` : char;
      }
      text = out;
    }
    if (config.lowercase) {
      text = text.toLowerCase();
      if (config.strip_accents !== false) text = stripAccents(text);
    } else if (config.strip_accents) {
      text = stripAccents(text);
    }
    return text;
  };
}

// Control characters are the point of these two patterns.
// deno-lint-ignore no-control-regex
const NMT_CONTROL = /[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]/gm;
const NMT_SPACE =
  // deno-lint-ignore no-control-regex
  /[\u0009\u000A\u000C\u000D\u00A0\u1680\u2000-\u200F\u2028\u2029\u202F\u205F\u2581\u3000\uFEFF\uFFFD]/gm;

function nmtNfkc(text: string): string {
  text = text.replace(NMT_CONTROL, "").replace(NMT_SPACE, " ");
  // SentencePiece keeps FULLWIDTH TILDE although NFKC would fold it.
  return text.split("\uFF5E").map((part) => part.normalize("NFKC")).join("\uFF5E");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function replacePattern(pattern: Config): RegExp | string {
  if (typeof pattern.String === "string") return pattern.String;
  if (typeof pattern.Regex === "string") return new RegExp(pattern.Regex, "gu");
  throw new A3sError("unsupported_tokenizer", "Replace pattern needs String or Regex", {
    status: 400,
    field: "normalizer.pattern",
  });
}

/** Builds the normalizer a tokenizer.json describes (null: identity). */
export function buildNormalizer(config: Config | null | undefined): Normalizer | undefined {
  if (!config) return undefined;
  switch (config.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = config.type;
      return (text) => text.normalize(form);
    }
    case "Lowercase":
      return (text) => text.toLowerCase();
    case "StripAccents":
      return stripAccents;
    case "Strip": {
      const left = config.strip_left !== false;
      const right = config.strip_right !== false;
      return (text) =>
        left && right ? text.trim() : left ? text.trimStart() : right ? text.trimEnd() : text;
    }
    case "Prepend": {
      const prepend = String(config.prepend ?? "");
      return (text) => prepend + text;
    }
    case "Replace": {
      const pattern = replacePattern(config.pattern as Config);
      const content = String(config.content ?? "");
      if (typeof pattern === "string") {
        const escaped = new RegExp(escapeRegExp(pattern), "gu");
        return (text) => text.replaceAll(escaped, content);
      }
      return (text) => text.replaceAll(pattern, content);
    }
    case "BertNormalizer":
      return bertNormalizer(config);
    case "Sequence": {
      const steps = ((config.normalizers as Config[]) ?? []).map(buildNormalizer).filter((
        n,
      ): n is Normalizer => n !== undefined);
      return (text) => steps.reduce((t, step) => step(t), text);
    }
    case "Precompiled":
      // As transformers.js does: SentencePiece's default nmt_nfkc rule rather than the charsmap.
      return nmtNfkc;
    default:
      throw new A3sError("unsupported_tokenizer", `unsupported normalizer '${config.type}'`, {
        status: 400,
        field: "normalizer.type",
      });
  }
}
