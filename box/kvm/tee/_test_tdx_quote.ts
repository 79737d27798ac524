/**
 * Test support: a TDX provisioning chain made for the tests (a self-signed root CA, a platform
 * CA and a PCK certificate, all ECDSA P-256 real X.509) and v4 quotes laid out and signed as
 * Intel's quoting enclave does: the attestation key signs the header and TD report body, the
 * QE report binds that key, the PCK key signs the QE report, and the PEM chain rides in the
 * certification data. A test chooses the report data and measurements, which a recorded quote
 * cannot; verifiers trust it only when its root is pinned explicitly.
 */
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { toHex } from "./evidence.ts";

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const ECDSA_WITH_SHA256 = new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" });

/** Intel's quoting enclave vendor ID, as real quotes carry it. */
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";

function name(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: "2.5.4.3", value: new AttributeValue({ utf8String: cn }) }),
    ]),
  ]);
}

/** DER INTEGER of an unsigned big-endian value: leading zeros dropped, a sign byte if needed. */
function derInteger(value: Uint8Array): number[] {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const bytes = [...value.subarray(start)];
  if (bytes[0] & 0x80) bytes.unshift(0);
  return [0x02, bytes.length, ...bytes];
}

/** WebCrypto's raw r||s as the DER SEQUENCE X.509 signatures carry. */
function derEcdsaSignature(raw: Uint8Array): Uint8Array {
  const body = [...derInteger(raw.subarray(0, 32)), ...derInteger(raw.subarray(32))];
  return Uint8Array.of(0x30, body.length, ...body);
}

async function issue(
  subject: string,
  issuer: string,
  subjectKey: CryptoKey,
  issuerKey: CryptoKey,
): Promise<Uint8Array> {
  const spki = await crypto.subtle.exportKey("spki", subjectKey);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: crypto.getRandomValues(new Uint8Array(8)).map((b, i) => i === 0 ? b & 0x7f : b)
      .buffer,
    signature: ECDSA_WITH_SHA256,
    issuer: name(issuer),
    subject: name(subject),
    validity: new Validity({
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    }),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
  });
  const tbsDer = AsnConvert.serialize(tbs);
  const raw = new Uint8Array(await crypto.subtle.sign(SIGN, issuerKey, tbsDer));
  return new Uint8Array(AsnConvert.serialize(
    new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: ECDSA_WITH_SHA256,
      signatureValue: derEcdsaSignature(raw).slice().buffer,
    }),
  ));
}

function pem(der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

/** What a made-up TD reports. */
export interface TestTdxBody {
  /** The TD's build-time measurement (48 bytes). */
  mrTd: Uint8Array;
  /** The 64 bytes of report data. */
  reportData: Uint8Array;
  /** Whether the TD is debuggable (TDATTRIBUTES bit 0). */
  debug?: boolean;
  /** The certificates to carry instead of this chain's (leaf first), to test a broken chain. */
  pckChain?: Uint8Array[];
}

/** A made-up TDX provisioning chain that signs quotes. */
export interface TestTdxChain {
  /** The self-signed root CA (DER). */
  root: Uint8Array;
  /** The platform CA (DER), signed by the root. */
  platform: Uint8Array;
  /** The PCK certificate (DER), signed by the platform CA; its key signs QE reports. */
  pck: Uint8Array;
  /** SHA-256 (hex) of the root, to pin it. */
  rootSha256: string;
  /** A v4 quote for `body`, signed end to end. */
  quote(body: TestTdxBody): Promise<Uint8Array>;
}

/** Makes a root CA → platform CA → PCK chain and the keys a quoting enclave would hold. */
export async function testTdxChain(): Promise<TestTdxChain> {
  const rootKeys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const platformKeys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const pckKeys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const attestationKeys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const root = await issue(
    "Test SGX Root CA",
    "Test SGX Root CA",
    rootKeys.publicKey,
    rootKeys.privateKey,
  );
  const platform = await issue(
    "Test SGX PCK Platform CA",
    "Test SGX Root CA",
    platformKeys.publicKey,
    rootKeys.privateKey,
  );
  const pck = await issue(
    "Test SGX PCK Certificate",
    "Test SGX PCK Platform CA",
    pckKeys.publicKey,
    platformKeys.privateKey,
  );
  const rootSha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", root.slice())));
  // The raw public key is 0x04 || x || y; a quote carries x || y.
  const attestationKey = new Uint8Array(
    await crypto.subtle.exportKey("raw", attestationKeys.publicKey),
  ).subarray(1);

  return {
    root,
    platform,
    pck,
    rootSha256,
    async quote({ mrTd, reportData, debug = false, pckChain = [pck, platform, root] }) {
      const chainPem = new TextEncoder().encode(pckChain.map(pem).join(""));
      const header = new Uint8Array(48);
      const headerView = new DataView(header.buffer);
      headerView.setUint16(0, 4, true); // version
      headerView.setUint16(2, 2, true); // attestation key type: ECDSA P-256
      headerView.setUint32(4, 0x81, true); // TEE type: TDX
      header.set(INTEL_QE_VENDOR_ID.match(/../g)!.map((h) => parseInt(h, 16)), 12);
      const body = new Uint8Array(584);
      body[120] = debug ? 1 : 0;
      body.set(mrTd.subarray(0, 48), 136);
      body.set(reportData.subarray(0, 64), 520);
      const signed = Uint8Array.of(...header, ...body);
      const quoteSignature = new Uint8Array(
        await crypto.subtle.sign(SIGN, attestationKeys.privateKey, signed),
      );

      const qeAuthData = crypto.getRandomValues(new Uint8Array(32));
      const qeReport = new Uint8Array(384);
      qeReport.set(
        new Uint8Array(
          await crypto.subtle.digest("SHA-256", Uint8Array.of(...attestationKey, ...qeAuthData)),
        ),
        320,
      );
      const qeReportSignature = new Uint8Array(
        await crypto.subtle.sign(SIGN, pckKeys.privateKey, qeReport),
      );

      const certificationData = new Uint8Array(
        384 + 64 + 2 + qeAuthData.length + 6 + chainPem.length,
      );
      const certView = new DataView(certificationData.buffer);
      certificationData.set(qeReport, 0);
      certificationData.set(qeReportSignature, 384);
      certView.setUint16(448, qeAuthData.length, true);
      certificationData.set(qeAuthData, 450);
      const at = 450 + qeAuthData.length;
      certView.setUint16(at, 5, true); // PCK chain, PEM
      certView.setUint32(at + 2, chainPem.length, true);
      certificationData.set(chainPem, at + 6);

      const signatureData = new Uint8Array(128 + 6 + certificationData.length);
      const signatureView = new DataView(signatureData.buffer);
      signatureData.set(quoteSignature, 0);
      signatureData.set(attestationKey, 64);
      signatureView.setUint16(128, 6, true); // QE report certification data
      signatureView.setUint32(130, certificationData.length, true);
      signatureData.set(certificationData, 134);

      const quote = new Uint8Array(signed.length + 4 + signatureData.length);
      quote.set(signed, 0);
      new DataView(quote.buffer).setUint32(signed.length, signatureData.length, true);
      quote.set(signatureData, signed.length + 4);
      return quote;
    },
  };
}
