/**
 * Attestation results as JSON and as a short table, for `box attest` and the attestation route:
 * bytes as lowercase hex, 64-bit fields as hex strings, and the raw evidence (base64 in the
 * a3s-evidence/1 form) so a remote party can verify it again itself.
 */
import type { AttestationResult } from "./attest.ts";
import { encodeEvidence, toHex } from "./evidence.ts";

/** A JSON value. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Any value as JSON: bytes in lowercase hex, bigints as hex strings. */
export function plain(value: unknown): JsonValue {
  if (value instanceof Uint8Array) return toHex(value);
  if (typeof value === "bigint") return `0x${value.toString(16)}`;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value as JsonValue;
}

/** The result as JSON: every field, bytes in hex, the evidence as an a3s-evidence/1 string. */
export function attestationJson(result: AttestationResult): { [key: string]: JsonValue } {
  if (result.tee === "none") return plain(result) as { [key: string]: JsonValue };
  const { evidence, ...rest } = result;
  return {
    ...(plain(rest) as { [key: string]: JsonValue }),
    evidence: new TextDecoder().decode(encodeEvidence(evidence)),
  };
}

/** The result in a few lines; simulated answers say SIMULATED first. */
export function attestationText(result: AttestationResult): string {
  if (result.tee === "none") return result.message;
  const lines = [
    ...(result.simulated ? [result.message] : []),
    `tee           ${result.tee}${result.simulated ? " (SIMULATED, not verified)" : ""}`,
    `verified      ${result.verified}`,
    `measurement   ${toHex(result.measurement)}`,
  ];
  if (result.tee === "sev-snp") {
    const r = result.report;
    lines.push(
      `report data   ${toHex(r.reportData)}`,
      `policy        0x${r.policy.toString(16)}${r.debugAllowed ? " (debug allowed)" : ""}`,
      `vmpl          ${r.vmpl}`,
      `chip id       ${toHex(r.chipId).slice(0, 32)}…`,
      `tcb           bl ${r.currentTcb.bootLoader} tee ${r.currentTcb.tee} snp ${r.currentTcb.snp} ucode ${r.currentTcb.microcode}`,
    );
  } else if (result.tee === "tdx") {
    lines.push(
      `report data   ${toHex(result.quote.reportData)}`,
      `mr seam       ${toHex(result.quote.mrSeam)}`,
      `rtmr0         ${toHex(result.quote.rtmr[0])}`,
    );
  } else {
    lines.push(`report data   ${toHex(result.reportData)}`);
  }
  return lines.join("\n");
}
