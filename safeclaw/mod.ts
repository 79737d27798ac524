/**
 * `@a3s/safeclaw`: privacy guard for agent traffic. This release classifies text: it finds
 * emails, phone numbers, payment cards, IBANs, US SSNs, Chinese resident IDs, IP addresses and
 * secrets (provider keys, JWTs, private keys, credentials in URLs, high-entropy assignments)
 * with a validating WebAssembly scanner.
 *
 * @example
 * ```ts
 * import { classify, redact } from "@a3s/safeclaw";
 * const text = "card 4111 1111 1111 1111, mail ada@example.org";
 * const { findings, types } = classify(text);
 * console.log(types); // ["credit_card", "email"]
 * console.log(redact(text, findings)); // "card [CREDIT_CARD], mail [EMAIL]"
 * ```
 * @module
 */
export {
  type Classification,
  type Classifier,
  type ClassifierOptions,
  classify,
  createClassifier,
  redact,
} from "./classify.ts";
export { type Finding, PII_TYPES, type PiiType } from "@a3s/wasm/pii";
export { safeclawModule } from "./routes.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/safeclaw";
