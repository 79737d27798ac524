/**
 * Attestation evidence: the raw bytes a confidential guest's hardware produced (an SEV-SNP report
 * with its VCEK, ASK and ARK, or a TDX quote carrying its own PCK chain), kept apart from their
 * verification so they can travel: inside an RA-TLS certificate, or from a box to a verifier.
 * A simulated piece of evidence carries only the report data and is never accepted unless the
 * verifier asks for simulation by name.
 */
import { type SnpReport, verifySnpAttestation } from "./snp.ts";
import { INTEL_SGX_ROOT_CA_SHA256, type TdxQuote, verifyTdxQuote } from "./tdx.ts";
import { AttestationError } from "./snp.ts";

/** Evidence as the hardware produced it. */
export type Evidence =
  | { tee: "sev-snp"; report: Uint8Array; vcek: Uint8Array; ask: Uint8Array; ark: Uint8Array }
  | { tee: "tdx"; quote: Uint8Array }
  | { tee: "simulated"; reportData: Uint8Array };

/** Evidence that verified, with the fields a relying party decides on. */
export type VerifiedEvidence =
  | { tee: "sev-snp"; simulated: false; measurement: Uint8Array; report: SnpReport }
  | { tee: "tdx"; simulated: false; measurement: Uint8Array; quote: TdxQuote }
  | { tee: "simulated"; simulated: true; measurement: Uint8Array; reportData: Uint8Array };

/**
 * SHA-256 fingerprints of AMD's published root keys (ARK-Milan, ARK-Genoa), as served by AMD's
 * key distribution service: an SNP chain must end at one of these unless the caller pins others.
 */
export const AMD_ARK_SHA256: readonly string[] = [
  "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
  "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
];

/**
 * The measurement a simulated guest reports: 48 bytes spelling "SIMULATED", so data sealed or
 * secrets gated on it can never be confused with a real launch measurement.
 */
export const SIMULATED_MEASUREMENT: Uint8Array = (() => {
  const bytes = new Uint8Array(48);
  bytes.set(new TextEncoder().encode("A3S-SIMULATED-TEE-NOT-A-MEASUREMENT"));
  return bytes;
})();

/** What the verifier requires of the evidence. */
export interface VerifyEvidenceOptions {
  /** The 64 bytes the report must carry (shorter values are zero-padded). */
  reportData: Uint8Array;
  /** SHA-256 (hex) of the ARKs accepted for SEV-SNP; AMD's by default. */
  trustedArkSha256?: readonly string[];
  /** SHA-256 (hex) of the roots accepted at the top of a TDX PCK chain; Intel's by default. */
  trustedTdxRootSha256?: readonly string[];
  /** The launch measurement (MEASUREMENT for SNP, MRTD for TDX) the guest must have. */
  expectedMeasurement?: Uint8Array;
  /** Accept simulated evidence (development only; the result still says simulated). */
  allowSimulated?: boolean;
  /** Accept a guest whose policy allows debugging (its memory is readable by the host). */
  allowDebug?: boolean;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string; throws on odd length or a non-hex digit. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new RangeError("not a hex string");
  }
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice())));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** `data` zero-padded to the 64 bytes of a report's user data. */
export function reportDataOf(data: Uint8Array): Uint8Array<ArrayBuffer> {
  if (data.length > 64) throw new RangeError("report data is at most 64 bytes");
  const padded = new Uint8Array(64);
  padded.set(data);
  return padded;
}

/** Verifies evidence against the options; throws {@linkcode AttestationError} naming what failed. */
export async function verifyEvidence(
  evidence: Evidence,
  options: VerifyEvidenceOptions,
): Promise<VerifiedEvidence> {
  const reportData = reportDataOf(options.reportData);
  let verified: VerifiedEvidence;
  if (evidence.tee === "simulated") {
    if (!options.allowSimulated) {
      throw new AttestationError("refused: SIMULATED evidence proves nothing about the hardware");
    }
    if (!sameBytes(reportDataOf(evidence.reportData), reportData)) {
      throw new AttestationError("the report data is not the nonce that was asked for");
    }
    verified = {
      tee: "simulated",
      simulated: true,
      measurement: SIMULATED_MEASUREMENT,
      reportData,
    };
  } else if (evidence.tee === "sev-snp") {
    const pinned = options.trustedArkSha256 ?? AMD_ARK_SHA256;
    if (!pinned.includes(await sha256Hex(evidence.ark))) {
      throw new AttestationError("the report's ARK is not one this verifier trusts");
    }
    const report = await verifySnpAttestation(evidence.report, evidence, { reportData });
    if (report.debugAllowed && !options.allowDebug) {
      throw new AttestationError("refused: the guest's policy allows debugging");
    }
    verified = { tee: "sev-snp", simulated: false, measurement: report.measurement, report };
  } else {
    const quote = await verifyTdxQuote(evidence.quote, {
      reportData,
      trustedRootSha256: [...(options.trustedTdxRootSha256 ?? [INTEL_SGX_ROOT_CA_SHA256])],
    });
    if (quote.debug && !options.allowDebug) {
      throw new AttestationError("refused: the trust domain is debuggable");
    }
    verified = { tee: "tdx", simulated: false, measurement: quote.mrTd, quote };
  }
  if (
    options.expectedMeasurement && !sameBytes(verified.measurement, options.expectedMeasurement)
  ) {
    throw new AttestationError(
      `refused: the measurement ${toHex(verified.measurement)} is not the expected one`,
    );
  }
  return verified;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unbase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Evidence as a self-describing byte string (versioned JSON, binary fields in base64). */
export function encodeEvidence(evidence: Evidence): Uint8Array {
  const fields: Record<string, string> = { format: "a3s-evidence/1", tee: evidence.tee };
  for (const [key, value] of Object.entries(evidence)) {
    if (value instanceof Uint8Array) fields[key] = base64(value);
  }
  return new TextEncoder().encode(JSON.stringify(fields));
}

/** Reads {@linkcode encodeEvidence}'s bytes; throws {@linkcode AttestationError} when malformed. */
export function decodeEvidence(bytes: Uint8Array): Evidence {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new AttestationError("the evidence is not a3s-evidence/1");
  }
  const field = (name: string): Uint8Array => {
    const value = fields[name];
    if (typeof value !== "string") throw new AttestationError(`the evidence lacks ${name}`);
    try {
      return unbase64(value);
    } catch {
      throw new AttestationError(`the evidence's ${name} is not base64`);
    }
  };
  if (fields.format !== "a3s-evidence/1") {
    throw new AttestationError("the evidence is not a3s-evidence/1");
  }
  switch (fields.tee) {
    case "sev-snp":
      return {
        tee: "sev-snp",
        report: field("report"),
        vcek: field("vcek"),
        ask: field("ask"),
        ark: field("ark"),
      };
    case "tdx":
      return { tee: "tdx", quote: field("quote") };
    case "simulated":
      return { tee: "simulated", reportData: field("reportData") };
    default:
      throw new AttestationError(`unknown TEE ${String(fields.tee)} in the evidence`);
  }
}
