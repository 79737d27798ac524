/**
 * Just enough DER to check X.509 signatures with WebCrypto: read tag-length-value elements, and
 * split a certificate into the signed bytes, the signature and the subject public key.
 */

/** One DER element: its tag, its whole encoding and its contents. */
export interface DerElement {
  tag: number;
  /** Header and contents, as signed. */
  raw: Uint8Array;
  contents: Uint8Array;
}

/** Malformed DER. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Reads the element at `offset`. */
export function readElement(bytes: Uint8Array, offset = 0): DerElement {
  if (offset + 2 > bytes.length) throw new DerError("truncated DER header");
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError("unsupported DER length");
    if (offset + 2 + count > bytes.length) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i];
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new DerError("DER element runs past its container");
  return {
    tag,
    raw: bytes.subarray(offset, end),
    contents: bytes.subarray(offset + header, end),
  };
}

/** The elements inside a constructed element. */
export function children(element: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let at = 0; at < element.contents.length;) {
    const child = readElement(element.contents, at);
    out.push(child);
    at += child.raw.length;
  }
  return out;
}

/** The parts of an X.509 certificate a signature check needs. */
export interface CertificateParts {
  /** The DER tbsCertificate: the signed bytes. */
  tbs: Uint8Array;
  /** The signature value (BIT STRING contents without the unused-bits byte). */
  signature: Uint8Array;
  /** The DER SubjectPublicKeyInfo, for importKey("spki"). */
  spki: Uint8Array;
}

/** Splits a DER certificate. */
export function certificateParts(der: Uint8Array): CertificateParts {
  const certificate = readElement(der);
  const [tbs, , signature] = children(certificate);
  if (!tbs || !signature || signature.tag !== 0x03) throw new DerError("not an X.509 certificate");
  const fields = children(tbs);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
  const spki = fields[first + 5];
  if (!spki || spki.tag !== 0x30) throw new DerError("no subjectPublicKeyInfo");
  return { tbs: tbs.raw, signature: signature.contents.subarray(1), spki: spki.raw };
}

/** The DER inside a PEM block. */
export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}
