/** Every entity type safeclaw reports: the WebAssembly scanner's types and the recognizers'. */
import { PII_TYPES } from "@a3s/wasm/pii";

/** Types found by the TypeScript recognizers on top of the WebAssembly scanner. */
export const RECOGNIZER_TYPES = [
  "us_itin",
  "us_passport",
  "uk_nhs",
  "uk_nino",
  "es_nif",
  "es_nie",
  "it_fiscal_code",
  "in_aadhaar",
  "in_pan",
  "au_tfn",
  "au_abn",
  "au_medicare",
  "sg_nric",
  "pl_pesel",
  "crypto_wallet",
  "mac_address",
  "url",
  "date_of_birth",
] as const;

/**
 * Every type, scanner types first.
 *
 * @example
 * ```ts
 * import { ENTITY_TYPES } from "@a3s/safeclaw";
 * console.log(ENTITY_TYPES.includes("in_aadhaar")); // true
 * ```
 */
export const ENTITY_TYPES = [...PII_TYPES, ...RECOGNIZER_TYPES] as const;

/** The stable name of a kind of sensitive value. */
export type EntityType = (typeof ENTITY_TYPES)[number];

/** One detected value: `text.slice(start, end)`, offsets in UTF-16 code units. */
export interface Detection {
  /** What kind of value it is. */
  type: EntityType;
  /** Where it starts, inclusive. */
  start: number;
  /** Where it ends, exclusive. */
  end: number;
  /** In [0, 1]: checksum-validated matches near 1, weak format-only matches below 0.5. */
  confidence: number;
}
