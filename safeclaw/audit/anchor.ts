/**
 * An audit anchor: the log's newest verified record, signed with the log's key, to be kept
 * where whoever can write the store cannot (another machine, a write-once volume, a ticket).
 * The store alone cannot tell a log cut back to an older signed head, or wiped whole, from one
 * that was never longer; checked against an anchor, it can.
 */
import { ValidationError } from "@a3s/common/errors";

/** A signed claim that the log held record `seq`, whose hash was `hash`. */
export interface AuditAnchor {
  /** The record's sequence number. */
  seq: number;
  /** The record's hash (hex), which chains it to every record before it. */
  hash: string;
  /** HMAC-SHA256 (hex) of the two under the log's key: only the log's owner can make one. */
  signature: string;
}

const PREFIX = "a3s-audit-anchor:v1";
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The anchor as one line, to paste or append anywhere.
 *
 * @example
 * ```ts
 * import { formatAnchor } from "./anchor.ts";
 * const hex = "ab".repeat(32);
 * console.log(formatAnchor({ seq: 7, hash: hex, signature: hex }).startsWith("a3s-audit-anchor:v1:7:"));
 * // true
 * ```
 */
export function formatAnchor(anchor: AuditAnchor): string {
  return `${PREFIX}:${anchor.seq}:${anchor.hash}:${anchor.signature}`;
}

/**
 * Reads an anchor from its line (or a text whose last such line is taken, as a file that
 * anchors are appended to). Throws a 400 naming `field` when there is none.
 *
 * @example
 * ```ts
 * import { parseAnchor } from "./anchor.ts";
 * const hex = "ab".repeat(32);
 * console.log(parseAnchor(`old note\na3s-audit-anchor:v1:7:${hex}:${hex}`).seq); // 7
 * ```
 */
export function parseAnchor(text: string, field = "anchor"): AuditAnchor {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith(PREFIX));
  const line = lines.at(-1) ?? text.trim();
  const [prefix, version, seq, hash, signature, ...extra] = line.split(":");
  if (
    `${prefix}:${version}` !== PREFIX || !/^[1-9]\d{0,15}$/.test(seq ?? "") ||
    !HEX64.test(hash ?? "") || !HEX64.test(signature ?? "") || extra.length
  ) {
    throw new ValidationError(
      `${field}: must be a line '${PREFIX}:<seq>:<hash>:<signature>' as 'safeclaw audit anchor' prints`,
      field,
    );
  }
  return { seq: Number(seq), hash: hash!, signature: signature! };
}
