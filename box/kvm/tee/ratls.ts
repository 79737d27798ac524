/**
 * RA-TLS: a box proves what it runs to a TLS client by presenting a certificate that carries its
 * attestation evidence in an X.509 extension. The certificate's key is generated fresh, and the
 * evidence's report data is SHA-256 of the certificate's SubjectPublicKeyInfo followed by the
 * client's 32-byte nonce (zeros when none), so the report vouches for exactly this key: a stolen
 * report cannot be re-wrapped around another key. The certificate is self-signed; trust comes
 * from the evidence's hardware chain, never from a CA.
 */
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Extension,
  Extensions,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { ECDSASigValue } from "@peculiar/asn1-ecc";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  decodeEvidence,
  encodeEvidence,
  type Evidence,
  toHex,
  type VerifiedEvidence,
  verifyEvidence,
  type VerifyEvidenceOptions,
} from "./evidence.ts";
import * as tls from "node:tls";
import { AttestationError } from "./snp.ts";
import { type CertificateParts, certificateParts } from "./der.ts";

/**
 * The extension carrying a3s evidence: an OID under 2.25 (derived from a UUID, per ITU-T X.667),
 * which needs no registration and cannot collide with anyone else's.
 */
export const RA_TLS_EVIDENCE_OID = "2.25.152028920342216705674287538019506178456";
/**
 * The same OID as the parser spells it: asn1js writes arcs above 2^53 in hex braces
 * ("2.25.{01645f...}"), so the lookup compares with a round-tripped copy.
 */
const EVIDENCE_OID_AS_PARSED = AsnConvert.parse(
  AsnConvert.serialize(
    new Extension({ extnID: RA_TLS_EVIDENCE_OID, extnValue: new OctetString(new Uint8Array(1)) }),
  ),
  Extension,
).extnID;
const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const COMMON_NAME = "2.5.4.3";
const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

/** A certificate and its private key, ready for `Deno.listenTls`. */
export interface RaTlsIdentity {
  /** The certificate, PEM. */
  certificatePem: string;
  /** The PKCS#8 private key, PEM. */
  privateKeyPem: string;
  /** The certificate, DER. */
  certificateDer: Uint8Array;
  /** Whether the evidence inside is simulated (it then proves nothing). */
  simulated: boolean;
}

/** Options for {@linkcode createRaTlsCertificate}. */
export interface CreateRaTlsOptions {
  /** Gets evidence binding the given 64 bytes of report data (a box's attestation). */
  evidence: (reportData: Uint8Array) => Promise<Evidence>;
  /** The verifier's 32-byte challenge, bound into the report next to the key hash. */
  nonce?: Uint8Array;
  /** The certificate's subject CN; `a3s box` by default. */
  commonName?: string;
  /** How long the certificate is valid; one day by default. */
  validSeconds?: number;
}

/** SHA-256(SPKI) ‖ nonce: the 64 bytes of report data that bind a key and a challenge. */
export async function raTlsReportData(
  spki: Uint8Array,
  nonce: Uint8Array = new Uint8Array(32),
): Promise<Uint8Array<ArrayBuffer>> {
  if (nonce.length > 32) throw new RangeError("the RA-TLS nonce is at most 32 bytes");
  const data = new Uint8Array(64);
  data.set(new Uint8Array(await crypto.subtle.digest("SHA-256", spki.slice())));
  data.set(nonce, 32);
  return data;
}

function pem(label: string, der: Uint8Array): string {
  const body = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** A DER certificate from DER bytes or PEM text. */
function certificateBytes(input: Uint8Array | string): Uint8Array<ArrayBuffer> {
  if (typeof input !== "string") return input.slice();
  const match = input.match(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/);
  if (!match) throw new AttestationError("not a PEM certificate");
  return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
}

/** WebCrypto's r‖s as the DER ECDSA-Sig-Value X.509 carries. */
function derSignature(raw: Uint8Array): ArrayBuffer {
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array) => {
    // INTEGERs are signed: a leading 0x00 keeps a high first bit positive.
    const trimmed = bytes.slice(bytes.findIndex((b) => b !== 0));
    return (trimmed[0] & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed).buffer;
  };
  return AsnConvert.serialize(
    new ECDSASigValue({ r: integer(raw.subarray(0, half)), s: integer(raw.subarray(half)) }),
  );
}

/** The DER ECDSA-Sig-Value as WebCrypto's fixed-width r‖s. */
function rawSignature(der: ArrayBuffer, size: number): Uint8Array<ArrayBuffer> {
  const value = AsnConvert.parse(der, ECDSASigValue);
  const out = new Uint8Array(size * 2);
  for (const [i, part] of [value.r, value.s].entries()) {
    const bytes = new Uint8Array(part);
    const trimmed = bytes.subarray(Math.max(0, bytes.length - size));
    out.set(trimmed, i * size + size - trimmed.length);
  }
  return out;
}

/** Generates a key, gets evidence binding it, and issues the self-signed RA-TLS certificate. */
export async function createRaTlsCertificate(options: CreateRaTlsOptions): Promise<RaTlsIdentity> {
  const keys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const spkiDer = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const evidence = await options.evidence(await raTlsReportData(spkiDer, options.nonce));
  const name = new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({
        type: COMMON_NAME,
        value: new AttributeValue({ utf8String: options.commonName ?? "a3s box" }),
      }),
    ]),
  ]);
  const now = Date.now();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive serial number
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serial.buffer,
    signature: algorithm,
    issuer: name,
    subject: name,
    validity: new Validity({
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + (options.validSeconds ?? 86_400) * 1000),
    }),
    subjectPublicKeyInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
    extensions: new Extensions([
      new Extension({
        extnID: RA_TLS_EVIDENCE_OID,
        critical: false,
        extnValue: new OctetString(encodeEvidence(evidence)),
      }),
    ]),
  });
  const tbsDer = AsnConvert.serialize(tbs);
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbsDer),
  );
  const certificateDer = new Uint8Array(AsnConvert.serialize(
    new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: algorithm,
      signatureValue: derSignature(signature),
    }),
  ));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certificatePem: pem("CERTIFICATE", certificateDer),
    privateKeyPem: pem("PRIVATE KEY", pkcs8),
    certificateDer,
    simulated: evidence.tee === "simulated",
  };
}

/** What a verified RA-TLS certificate proves. */
export type RaTlsVerification = VerifiedEvidence & {
  /** SHA-256 (hex) of the certificate's public key, which the evidence binds. */
  publicKeySha256: string;
};

/** Options for {@linkcode verifyRaTlsCertificate}. */
export type VerifyRaTlsOptions = Omit<VerifyEvidenceOptions, "reportData"> & {
  /** The 32-byte challenge the client sent; zeros when it sent none. */
  nonce?: Uint8Array;
  /** The time the certificate must be valid at; now by default. */
  now?: Date;
};

/**
 * Checks an RA-TLS certificate: its self-signature and validity, then its evidence (hardware
 * chain and signature), then that the evidence's report data is the hash of this certificate's
 * key and the client's nonce. Throws {@linkcode AttestationError} naming the first failure.
 */
export async function verifyRaTlsCertificate(
  certificate: Uint8Array | string,
  options: VerifyRaTlsOptions = {},
): Promise<RaTlsVerification> {
  const der = certificateBytes(certificate);
  let parsed: Certificate;
  let parts: CertificateParts;
  try {
    parsed = AsnConvert.parse(der, Certificate);
    // The signed bytes as they arrived: re-encoding a parsed certificate need not reproduce them.
    parts = certificateParts(der);
  } catch {
    throw new AttestationError("not an X.509 certificate");
  }
  const tbs = parsed.tbsCertificate;
  if (parsed.signatureAlgorithm.algorithm !== ECDSA_WITH_SHA256) {
    throw new AttestationError("an RA-TLS certificate is signed with ECDSA P-256 and SHA-256");
  }
  const spkiDer = parts.spki.slice();
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("spki", spkiDer, P256, false, ["verify"]);
  } catch {
    throw new AttestationError("the certificate's key is not an ECDSA P-256 key");
  }
  let signed = false;
  try {
    signed = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      rawSignature(parts.signature.slice().buffer, 32),
      parts.tbs.slice(),
    );
  } catch {
    signed = false;
  }
  if (!signed) throw new AttestationError("the certificate's self-signature does not verify");
  const now = options.now ?? new Date();
  if (now < tbs.validity.notBefore.getTime() || now > tbs.validity.notAfter.getTime()) {
    throw new AttestationError("the certificate is outside its validity period");
  }
  const extension = tbs.extensions?.find((e) =>
    e.extnID === EVIDENCE_OID_AS_PARSED || e.extnID === RA_TLS_EVIDENCE_OID
  );
  if (!extension) throw new AttestationError("the certificate carries no attestation evidence");
  const evidence = decodeEvidence(new Uint8Array(extension.extnValue.buffer));
  const reportData = await raTlsReportData(spkiDer, options.nonce);
  let verified: VerifiedEvidence;
  try {
    verified = await verifyEvidence(evidence, { ...options, reportData });
  } catch (error) {
    if (error instanceof AttestationError && error.message.includes("report data")) {
      throw new AttestationError(
        "the evidence does not bind this certificate's public key and nonce",
      );
    }
    throw error;
  }
  const publicKeySha256 = toHex(reportData.subarray(0, 32));
  return { ...verified, publicKeySha256 };
}

/** Options for {@linkcode connectRaTls}. */
export type ConnectRaTlsOptions = VerifyRaTlsOptions & {
  /** The server's host name or address. */
  hostname: string;
  /** The server's port. */
  port: number;
  /** How long to wait for the handshake; 10 s by default. */
  timeoutMs?: number;
};

/**
 * Opens a TLS connection and verifies the server's certificate as RA-TLS before handing the
 * connection over. The CA check is off on purpose: trust comes from the evidence, and the caller
 * keeps talking on this very connection, whose key the evidence vouches for. A certificate that
 * does not verify closes the connection and throws {@linkcode AttestationError}.
 *
 * @example
 * ```ts
 * import { connectRaTls } from "./ratls.ts";
 * const { socket, verification } = await connectRaTls({ hostname: "10.0.0.5", port: 8443 });
 * console.log(verification.tee, verification.measurement);
 * socket.end();
 * ```
 */
export async function connectRaTls(
  options: ConnectRaTlsOptions,
): Promise<{ socket: tls.TLSSocket; verification: RaTlsVerification }> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.destroy();
      reject(new AttestationError(`no TLS handshake with ${options.hostname}:${options.port}`));
    }, options.timeoutMs ?? 10_000);
    const connection = tls.connect({
      host: options.hostname,
      port: options.port,
      rejectUnauthorized: false,
    }, () => {
      clearTimeout(timer);
      resolve(connection);
    });
    connection.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  try {
    const peer = socket.getPeerCertificate(true);
    if (!peer?.raw) throw new AttestationError("the server presented no certificate");
    const verification = await verifyRaTlsCertificate(new Uint8Array(peer.raw), options);
    return { socket, verification };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
