/**
 * Hugging Face decoders over token strings, as transformers.js chains them. Byte-level
 * vocabularies skip this: their bytes come straight from the wasm engine.
 */
import { A3sError } from "@a3s/common/errors";
import { byteLevelBytes } from "./_byte_level.ts";

type Config = Record<string, unknown>;

/** A decoder step: tokens in, tokens out; the caller joins the result. */
export type DecoderStep = (tokens: string[]) => string[];

// As in transformers.js: byte fallback decodes with a default TextDecoder (a leading BOM is
// dropped), byte-level keeps every byte.
const utf8 = new TextDecoder();
const utf8KeepBom = new TextDecoder("utf-8", { ignoreBOM: true });

/** transformers.js's clean_up_tokenization: drops spaces before punctuation and contractions. */
export function cleanup(text: string): string {
  return text.replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!")
    .replaceAll(" ,", ",").replaceAll(" ' ", "'").replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m").replaceAll(" 's", "'s").replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Builds the decoder chain (identity join when the config is empty). */
export function buildDecoder(config: Config | null | undefined): DecoderStep {
  if (!config) return (tokens) => tokens;
  switch (config.type) {
    case "Sequence": {
      const steps = ((config.decoders as Config[]) ?? []).map(buildDecoder);
      return (tokens) => steps.reduce((t, step) => step(t), tokens);
    }
    case "Replace": {
      const pattern = (config.pattern as Config)?.String;
      const content = String(config.content ?? "");
      if (typeof pattern !== "string") {
        const regex = new RegExp(String((config.pattern as Config)?.Regex), "gu");
        return (tokens) => tokens.map((t) => t.replaceAll(regex, content));
      }
      return (tokens) => tokens.map((t) => t.replaceAll(pattern, content));
    }
    case "ByteFallback":
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        for (const token of tokens) {
          const byte = token.length === 6 && token.startsWith("<0x") && token.endsWith(">")
            ? parseInt(token.slice(3, 5), 16)
            : NaN;
          if (!isNaN(byte)) {
            bytes.push(byte);
            continue;
          }
          if (bytes.length) out.push(utf8.decode(Uint8Array.from(bytes)));
          bytes = [];
          out.push(token);
        }
        if (bytes.length) out.push(utf8.decode(Uint8Array.from(bytes)));
        return out;
      };
    case "ByteLevel":
      return (tokens) => [utf8KeepBom.decode(byteLevelBytes(tokens.join("")) ?? new Uint8Array(0))];
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const content = String(config.content ?? " ");
      const start = Number(config.start ?? 0);
      const stop = Number(config.stop ?? 0);
      return (tokens) =>
        tokens.map((token) => {
          let startCut = 0;
          for (let i = 0; i < start && token[i] === content; i++) startCut = i + 1;
          let stopCut = token.length;
          for (let i = 0; i < stop; i++) {
            const index = token.length - i - 1;
            if (token[index] !== content) break;
            stopCut = index;
          }
          return token.slice(startCut, stopCut);
        });
    }
    case "WordPiece": {
      const prefix = String(config.prefix ?? "##");
      const clean = config.cleanup !== false;
      return (tokens) =>
        tokens.map((token, i) => {
          if (i !== 0) token = token.startsWith(prefix) ? token.replace(prefix, "") : " " + token;
          return clean ? cleanup(token) : token;
        });
    }
    case "Metaspace": {
      const replacement = String(config.replacement ?? "\u2581");
      const addPrefix = config.add_prefix_space === true;
      return (tokens) =>
        tokens.map((token, i) => {
          const normalized = token.replaceAll(replacement, " ");
          return addPrefix && i === 0 && normalized.startsWith(" ")
            ? normalized.substring(1)
            : normalized;
        });
    }
    default:
      throw new A3sError("unsupported_tokenizer", `unsupported decoder '${config.type}'`, {
        status: 400,
        field: "decoder.type",
      });
  }
}
