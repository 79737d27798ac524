/**
 * Test support: an SEV-SNP root of trust made for the tests (an ARK and ASK with RSA-PSS keys, a
 * VCEK with a P-384 key, real X.509 certificates), and reports laid out and signed exactly as the
 * AMD firmware does. The real Milan samples (_samples.ts, kept outside the repository) prove the
 * verifier accepts what hardware produces; this chain lets a test choose the report data (for
 * example a fresh certificate key's hash), which a recorded report cannot. Verifiers trust it
 * only when its ARK is pinned explicitly.
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
import { id_mgf1, id_RSASSA_PSS, id_sha384, RsaSaPssParams } from "@peculiar/asn1-rsa";
import { AsnConvert } from "@peculiar/asn1-schema";
import { toHex } from "./evidence.ts";

const PSS_KEY = {
  name: "RSA-PSS",
  hash: "SHA-384",
  modulusLength: 2048,
  publicExponent: Uint8Array.of(1, 0, 1),
} as const;
const P384 = { name: "ECDSA", namedCurve: "P-384" } as const;

function name(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: "2.5.4.3", value: new AttributeValue({ utf8String: cn }) }),
    ]),
  ]);
}

const sha384 = () => new AlgorithmIdentifier({ algorithm: id_sha384 });
const PSS_ALGORITHM = new AlgorithmIdentifier({
  algorithm: id_RSASSA_PSS,
  parameters: AsnConvert.serialize(
    new RsaSaPssParams({
      hashAlgorithm: sha384(),
      maskGenAlgorithm: new AlgorithmIdentifier({
        algorithm: id_mgf1,
        parameters: AsnConvert.serialize(sha384()),
      }),
      saltLength: 48,
    }),
  ),
});

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
    signature: PSS_ALGORITHM,
    issuer: name(issuer),
    subject: name(subject),
    validity: new Validity({
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    }),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
  });
  const tbsDer = AsnConvert.serialize(tbs);
  const signature = await crypto.subtle.sign(
    { name: "RSA-PSS", saltLength: 48 },
    issuerKey,
    tbsDer,
  );
  return new Uint8Array(AsnConvert.serialize(
    new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: PSS_ALGORITHM,
      signatureValue: signature,
    }),
  ));
}

/** A made-up SNP root of trust that signs reports. */
export interface TestSnpChain {
  ark: Uint8Array;
  ask: Uint8Array;
  vcek: Uint8Array;
  /** SHA-256 (hex) of the ARK, to pin it. */
  arkSha256: string;
  /** A 1184-byte report with `reportData` and `measurement`, signed by the VCEK. */
  report(reportData: Uint8Array, measurement: Uint8Array): Promise<Uint8Array>;
}

/** Makes an ARK → ASK → VCEK chain. */
export async function testSnpChain(): Promise<TestSnpChain> {
  const arkKeys = await crypto.subtle.generateKey(PSS_KEY, true, ["sign", "verify"]);
  const askKeys = await crypto.subtle.generateKey(PSS_KEY, true, ["sign", "verify"]);
  const vcekKeys = await crypto.subtle.generateKey(P384, true, ["sign", "verify"]);
  const ark = await issue("ARK-Test", "ARK-Test", arkKeys.publicKey, arkKeys.privateKey);
  const ask = await issue("SEV-Test", "ARK-Test", askKeys.publicKey, arkKeys.privateKey);
  const vcek = await issue("SEV-VCEK", "SEV-Test", vcekKeys.publicKey, askKeys.privateKey);
  const arkSha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", ark.slice())));
  return {
    ark,
    ask,
    vcek,
    arkSha256,
    async report(reportData, measurement) {
      const report = new Uint8Array(0x4a0);
      const view = new DataView(report.buffer);
      view.setUint32(0x00, 2, true); // version
      view.setBigUint64(0x08, 0x30000n, true); // policy: SMT allowed, reserved bit, no debug
      view.setUint32(0x34, 1, true); // ECDSA P-384 with SHA-384
      report.set(reportData, 0x50);
      report.set(measurement, 0x90);
      const raw = new Uint8Array(
        await crypto.subtle.sign(
          { name: "ECDSA", hash: "SHA-384" },
          vcekKeys.privateKey,
          report.slice(0, 0x2a0),
        ),
      );
      // The firmware stores r and s little-endian, each in a 72-byte field.
      report.set(raw.slice(0, 48).reverse(), 0x2a0);
      report.set(raw.slice(48).reverse(), 0x2a0 + 72);
      return report;
    },
  };
}
