/**
 * AMD SEV-SNP attestation reports (SEV-SNP firmware ABI, table "ATTESTATION_REPORT"): parse the
 * 1184-byte report and verify it with WebCrypto: the ARK signs itself and the ASK, the ASK signs
 * the chip's VCEK (RSASSA-PSS, SHA-384, 48-byte salt), and the VCEK signs the report's first
 * 0x2A0 bytes (ECDSA P-384, SHA-384; r and s stored little-endian in 72-byte fields).
 */
import { certificateParts } from "./der.ts";

/** Bytes in an SNP attestation report. */
export const SNP_REPORT_SIZE = 0x4a0;
const SIGNED_BYTES = 0x2a0;
const SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1;

/** A TCB version: security patch levels of each firmware part. */
export interface SnpTcb {
  /** The boot loader's security version. */
  bootLoader: number;
  /** The PSP OS (TEE) firmware's security version. */
  tee: number;
  /** The SNP firmware's security version. */
  snp: number;
  /** The CPU microcode's patch level. */
  microcode: number;
}

/** The fields of a report that a verifier decides on. */
export interface SnpReport {
  /** The report format version (2 or later). */
  version: number;
  /** The guest's own security version number. */
  guestSvn: number;
  /** The guest policy the launch was bound to (debug, SMT, migration...). */
  policy: bigint;
  /** The VM privilege level that asked for the report. */
  vmpl: number;
  /** The signature algorithm (1: ECDSA P-384 with SHA-384). */
  signatureAlgo: number;
  /** The platform's TCB now. */
  currentTcb: SnpTcb;
  /** Platform flags (SMT enabled, TSME enabled...). */
  platformInfo: bigint;
  /** The 64 bytes of user data (the nonce) the guest asked to be signed. */
  reportData: Uint8Array;
  /** The launch measurement (SHA-384). */
  measurement: Uint8Array;
  /** 32 bytes the host supplied at launch. */
  hostData: Uint8Array;
  /** The guest's report ID (stable across its migrations). */
  reportId: Uint8Array;
  /** The TCB the VCEK was derived for. */
  reportedTcb: SnpTcb;
  /** The chip's unique ID, which names its VCEK. */
  chipId: Uint8Array;
  /** Whether the policy allows debugging (bit 19): a debuggable guest proves nothing. */
  debugAllowed: boolean;
}

/** The report is malformed or does not verify. */
export class AttestationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AttestationError";
  }
}

function tcb(view: DataView, at: number): SnpTcb {
  return {
    bootLoader: view.getUint8(at),
    tee: view.getUint8(at + 1),
    snp: view.getUint8(at + 6),
    microcode: view.getUint8(at + 7),
  };
}

/** Parses a report; throws {@linkcode AttestationError} when it is not one. */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  if (bytes.length !== SNP_REPORT_SIZE) {
    throw new AttestationError(`an SNP report is ${SNP_REPORT_SIZE} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(0, true);
  if (version < 2) throw new AttestationError(`unsupported SNP report version ${version}`);
  const policy = view.getBigUint64(0x08, true);
  return {
    version,
    guestSvn: view.getUint32(0x04, true),
    policy,
    vmpl: view.getUint32(0x30, true),
    signatureAlgo: view.getUint32(0x34, true),
    currentTcb: tcb(view, 0x38),
    platformInfo: view.getBigUint64(0x40, true),
    reportData: bytes.slice(0x50, 0x90),
    measurement: bytes.slice(0x90, 0xc0),
    hostData: bytes.slice(0xc0, 0xe0),
    reportId: bytes.slice(0x140, 0x160),
    reportedTcb: tcb(view, 0x180),
    chipId: bytes.slice(0x1a0, 0x1e0),
    debugAllowed: (policy & (1n << 19n)) !== 0n,
  };
}

const PSS = { name: "RSA-PSS", hash: "SHA-384" } as const;

async function verifiedBy(issuerDer: Uint8Array, subjectDer: Uint8Array): Promise<boolean> {
  const issuer = certificateParts(issuerDer);
  const subject = certificateParts(subjectDer);
  const key = await crypto.subtle.importKey("spki", issuer.spki.slice(), PSS, false, ["verify"]);
  return await crypto.subtle.verify(
    { name: "RSA-PSS", saltLength: 48 },
    key,
    subject.signature.slice(),
    subject.tbs.slice(),
  );
}

/** Checks ARK → ARK, ARK → ASK and ASK → VCEK; throws naming the link that fails. */
export async function verifySnpChain(
  chain: { ark: Uint8Array; ask: Uint8Array; vcek: Uint8Array },
): Promise<void> {
  const links: Array<[string, Uint8Array, Uint8Array]> = [
    ["the ARK is not self-signed", chain.ark, chain.ark],
    ["the ASK is not signed by the ARK", chain.ark, chain.ask],
    ["the VCEK is not signed by the ASK", chain.ask, chain.vcek],
  ];
  for (const [failure, issuer, subject] of links) {
    let ok = false;
    try {
      ok = await verifiedBy(issuer, subject);
    } catch (error) {
      throw new AttestationError(`${failure}: ${(error as Error).message}`);
    }
    if (!ok) throw new AttestationError(failure);
  }
}

/** r or s: 72 little-endian bytes, of which P-384 uses 48, to 48 big-endian bytes. */
function scalar(bytes: Uint8Array): Uint8Array {
  return bytes.slice(0, 48).reverse();
}

/** Checks the report's signature with the VCEK; throws when it does not verify. */
export async function verifySnpReportSignature(
  report: Uint8Array,
  vcekDer: Uint8Array,
): Promise<void> {
  const parsed = parseSnpReport(report);
  if (parsed.signatureAlgo !== SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    throw new AttestationError(`unsupported signature algorithm ${parsed.signatureAlgo}`);
  }
  const vcek = certificateParts(vcekDer);
  const key = await crypto.subtle.importKey(
    "spki",
    vcek.spki.slice(),
    { name: "ECDSA", namedCurve: "P-384" },
    false,
    ["verify"],
  );
  const signature = new Uint8Array(96);
  signature.set(scalar(report.subarray(SIGNED_BYTES, SIGNED_BYTES + 72)), 0);
  signature.set(scalar(report.subarray(SIGNED_BYTES + 72, SIGNED_BYTES + 144)), 48);
  const ok = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-384" },
    key,
    signature,
    report.slice(0, SIGNED_BYTES),
  );
  if (!ok) throw new AttestationError("the report's signature does not verify with the VCEK");
}

/** Parses and fully verifies a report against its chain; returns the parsed report. */
export async function verifySnpAttestation(
  report: Uint8Array,
  chain: { ark: Uint8Array; ask: Uint8Array; vcek: Uint8Array },
  expected: { reportData?: Uint8Array } = {},
): Promise<SnpReport> {
  const parsed = parseSnpReport(report);
  await verifySnpChain(chain);
  await verifySnpReportSignature(report, chain.vcek);
  if (expected.reportData) {
    const want = new Uint8Array(64);
    want.set(expected.reportData.subarray(0, 64));
    if (!want.every((byte, i) => byte === parsed.reportData[i])) {
      throw new AttestationError("the report data is not the nonce that was asked for");
    }
  }
  return parsed;
}
