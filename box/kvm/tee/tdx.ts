/**
 * Intel TDX quotes (version 4, ECDSA P-256; Intel's "TDX DCAP Quoting Library API", appendix
 * A.3): parse the header and the TD report body, and verify with WebCrypto that
 *
 * 1. the attestation key signed the header and body;
 * 2. the quoting enclave's report binds that key (its report data starts with
 *    SHA-256(attestation key || QE authentication data));
 * 3. the PCK certificate signed the QE report;
 * 4. the PCK certificate chain (PCK ← platform/processor CA ← root) verifies and ends at a
 *    trusted root: by default Intel's SGX Root CA, pinned by its SHA-256 fingerprint.
 */
import { certificateParts, children, pemToDer, readElement } from "./der.ts";
import { AttestationError } from "./snp.ts";

const HEADER_BYTES = 48;
const BODY_BYTES = 584;
const SIGNED_BYTES = HEADER_BYTES + BODY_BYTES;
const QE_REPORT_BYTES = 384;
const TEE_TYPE_TDX = 0x81;
const ATT_KEY_ECDSA_P256 = 2;
const CERT_DATA_QE_REPORT = 6;
const CERT_DATA_PCK_CHAIN = 5;

/** SHA-256 of the DER "Intel SGX Root CA" certificate, the root of every PCK chain. */
export const INTEL_SGX_ROOT_CA_SHA256 =
  "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

/** The TD report body's measurements and data. */
export interface TdxQuote {
  /** The quote format version (4). */
  version: number;
  /** The attestation key's type (2: ECDSA P-256). */
  attestationKeyType: number;
  /** The TEE type (0x81 for TDX). */
  teeType: number;
  /** The quoting enclave's vendor (Intel's UUID). */
  qeVendorId: Uint8Array;
  /** The TDX module's and platform's security versions. */
  teeTcbSvn: Uint8Array;
  /** The measurement of the TDX module (SEAM). */
  mrSeam: Uint8Array;
  /** The TD's attributes (bit 0: debug). */
  tdAttributes: Uint8Array;
  /** The extended features the TD may use. */
  xfam: Uint8Array;
  /** The TD's build-time measurement. */
  mrTd: Uint8Array;
  /** The host-chosen configuration ID. */
  mrConfigId: Uint8Array;
  /** The TD owner's ID. */
  mrOwner: Uint8Array;
  /** The four runtime-extendable measurement registers. */
  rtmr: Uint8Array[];
  /** The 64 bytes of user data (the nonce) bound into the quote. */
  reportData: Uint8Array;
  /** Whether the TD is debuggable (TDATTRIBUTES bit 0): a debuggable TD proves nothing. */
  debug: boolean;
  /** The quote's signature data: what the verifier checks, and the PCK chain. */
  signature: {
    quoteSignature: Uint8Array;
    attestationKey: Uint8Array;
    qeReport: Uint8Array;
    qeReportSignature: Uint8Array;
    qeAuthData: Uint8Array;
    /** The PCK chain, leaf first, as DER. */
    pckChain: Uint8Array[];
  };
}

function need(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AttestationError(message);
}

/** Parses a v4 TDX quote; throws {@linkcode AttestationError} when it is not one. */
export function parseTdxQuote(quote: Uint8Array): TdxQuote {
  need(quote.length >= SIGNED_BYTES + 4, "too short for a TDX quote");
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const version = view.getUint16(0, true);
  const attestationKeyType = view.getUint16(2, true);
  const teeType = view.getUint32(4, true);
  need(version === 4, `unsupported quote version ${version}`);
  need(teeType === TEE_TYPE_TDX, `not a TDX quote (TEE type 0x${teeType.toString(16)})`);
  need(attestationKeyType === ATT_KEY_ECDSA_P256, "the attestation key is not ECDSA P-256");
  const body = (offset: number, length: number) =>
    quote.slice(HEADER_BYTES + offset, HEADER_BYTES + offset + length);
  const signatureLength = view.getUint32(SIGNED_BYTES, true);
  let at = SIGNED_BYTES + 4;
  need(at + signatureLength <= quote.length, "the signature data runs past the quote");
  need(signatureLength >= 128 + 6, "the signature data is too short");
  const quoteSignature = quote.slice(at, at + 64);
  const attestationKey = quote.slice(at + 64, at + 128);
  at += 128;
  const outerType = view.getUint16(at, true);
  const outerSize = view.getUint32(at + 2, true);
  at += 6;
  need(outerType === CERT_DATA_QE_REPORT, `certification data type ${outerType}, expected 6`);
  need(at + outerSize <= quote.length, "the certification data runs past the quote");
  const qeReport = quote.slice(at, at + QE_REPORT_BYTES);
  const qeReportSignature = quote.slice(at + QE_REPORT_BYTES, at + QE_REPORT_BYTES + 64);
  at += QE_REPORT_BYTES + 64;
  const authSize = view.getUint16(at, true);
  const qeAuthData = quote.slice(at + 2, at + 2 + authSize);
  at += 2 + authSize;
  const innerType = view.getUint16(at, true);
  const innerSize = view.getUint32(at + 2, true);
  at += 6;
  need(innerType === CERT_DATA_PCK_CHAIN, `inner certification data type ${innerType}, expected 5`);
  need(at + innerSize <= quote.length, "the PCK chain runs past the quote");
  const pem = new TextDecoder().decode(quote.subarray(at, at + innerSize));
  const pckChain = [
    ...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g),
  ]
    .map((match) => pemToDer(match[0]));
  need(pckChain.length >= 2, "the PCK chain has fewer than two certificates");
  const tdAttributes = body(120, 8);
  return {
    version,
    attestationKeyType,
    teeType,
    qeVendorId: quote.slice(12, 28),
    teeTcbSvn: body(0, 16),
    mrSeam: body(16, 48),
    tdAttributes,
    xfam: body(128, 8),
    mrTd: body(136, 48),
    mrConfigId: body(184, 48),
    mrOwner: body(232, 48),
    rtmr: [0, 1, 2, 3].map((i) => body(328 + 48 * i, 48)),
    reportData: body(520, 64),
    debug: (tdAttributes[0] & 1) === 1,
    signature: {
      quoteSignature,
      attestationKey,
      qeReport,
      qeReportSignature,
      qeAuthData,
      pckChain,
    },
  };
}

/** A DER ECDSA signature (SEQUENCE of two INTEGERs) as the raw r||s WebCrypto takes. */
function rawEcdsaSignature(der: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const [r, s] = children(readElement(der));
  const out = new Uint8Array(size * 2);
  for (const [i, integer] of [r, s].entries()) {
    let value = integer.contents;
    while (value.length > size && value[0] === 0) value = value.subarray(1);
    need(value.length <= size, "an ECDSA signature integer is too long");
    out.set(value, i * size + size - value.length);
  }
  return out;
}

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

async function certSignedBy(issuerDer: Uint8Array, subjectDer: Uint8Array): Promise<boolean> {
  const issuer = certificateParts(issuerDer);
  const subject = certificateParts(subjectDer);
  const key = await crypto.subtle.importKey("spki", issuer.spki.slice(), ECDSA_P256, false, [
    "verify",
  ]);
  return await crypto.subtle.verify(
    SHA256,
    key,
    rawEcdsaSignature(subject.signature, 32),
    subject.tbs.slice(),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Verifies a TDX quote end to end; `trustedRootSha256` lists the SHA-256 fingerprints (hex) of
 * the root certificates accepted at the top of the PCK chain (Intel's by default). Returns the
 * parsed quote.
 */
export async function verifyTdxQuote(
  quote: Uint8Array,
  options: { trustedRootSha256?: string[]; reportData?: Uint8Array } = {},
): Promise<TdxQuote> {
  const parsed = parseTdxQuote(quote);
  const { signature } = parsed;

  const attestationKey = await crypto.subtle.importKey(
    "raw",
    Uint8Array.of(0x04, ...signature.attestationKey),
    ECDSA_P256,
    false,
    ["verify"],
  );
  need(
    await crypto.subtle.verify(
      SHA256,
      attestationKey,
      signature.quoteSignature.slice(),
      quote.slice(0, SIGNED_BYTES),
    ),
    "the quote's signature does not verify with its attestation key",
  );

  const binding = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      Uint8Array.of(...signature.attestationKey, ...signature.qeAuthData),
    ),
  );
  need(
    sameBytes(binding, signature.qeReport.subarray(320, 352)),
    "the quoting enclave's report does not bind the attestation key",
  );

  const chain = signature.pckChain;
  const pck = certificateParts(chain[0]);
  const pckKey = await crypto.subtle.importKey("spki", pck.spki.slice(), ECDSA_P256, false, [
    "verify",
  ]);
  need(
    await crypto.subtle.verify(
      SHA256,
      pckKey,
      signature.qeReportSignature.slice(),
      signature.qeReport.slice(),
    ),
    "the QE report's signature does not verify with the PCK certificate",
  );

  for (let i = 0; i + 1 < chain.length; i++) {
    need(
      await certSignedBy(chain[i + 1], chain[i]),
      `PCK chain link ${i} is not signed by the next certificate`,
    );
  }
  const root = chain[chain.length - 1];
  need(await certSignedBy(root, root), "the chain's root is not self-signed");
  const fingerprint = [...new Uint8Array(await crypto.subtle.digest("SHA-256", root.slice()))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  need(
    (options.trustedRootSha256 ?? [INTEL_SGX_ROOT_CA_SHA256]).includes(fingerprint),
    "the PCK chain does not end at a trusted root",
  );

  if (options.reportData) {
    const want = new Uint8Array(64);
    want.set(options.reportData.subarray(0, 64));
    need(sameBytes(want, parsed.reportData), "the report data is not the nonce that was asked for");
  }
  return parsed;
}
