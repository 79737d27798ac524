/**
 * Sealing data to a measurement: AES-256-GCM with a key derived by HKDF-SHA-256 from a root key,
 * a random salt and the measurement. Unsealing under any other measurement derives another key,
 * so GCM's tag check fails and the data stays closed. The measurement is also the additional
 * authenticated data, so a blob cannot be re-labelled.
 *
 * In an SNP guest the root key is the firmware's derived key (bound to the launch measurement by
 * the chip); elsewhere the caller supplies one, which binds the data to the measurement but
 * proves nothing about the hardware.
 *
 * Blob layout: "A3SSEAL1" (8) | salt (32) | iv (12) | ciphertext and 16-byte tag.
 */

const MAGIC = new TextEncoder().encode("A3SSEAL1");
const SALT_BYTES = 32;
const IV_BYTES = 12;
const INFO_PREFIX = new TextEncoder().encode("a3s box seal v1\0");

/** The blob is not sealed data, or it was sealed to another measurement or root key. */
export class SealError extends Error {
  /** A refusal with its reason. */
  constructor(message: string) {
    super(message);
    this.name = "SealError";
  }
}

async function deriveKey(
  rootKey: Uint8Array,
  salt: Uint8Array,
  measurement: Uint8Array,
): Promise<CryptoKey> {
  if (rootKey.length < 32) throw new SealError("the root key must be at least 32 bytes");
  if (measurement.length === 0) throw new SealError("a measurement is required");
  const base = await crypto.subtle.importKey("raw", rootKey.slice(), "HKDF", false, ["deriveKey"]);
  const info = new Uint8Array(INFO_PREFIX.length + measurement.length);
  info.set(INFO_PREFIX);
  info.set(measurement, INFO_PREFIX.length);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: salt.slice(), info },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Encrypts `data` so only the same root key and measurement can open it. */
export async function seal(
  data: Uint8Array,
  options: { rootKey: Uint8Array; measurement: Uint8Array },
): Promise<Uint8Array> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await deriveKey(options.rootKey, salt, options.measurement);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: options.measurement.slice() },
      key,
      data.slice(),
    ),
  );
  const out = new Uint8Array(MAGIC.length + SALT_BYTES + IV_BYTES + ciphertext.length);
  out.set(MAGIC);
  out.set(salt, MAGIC.length);
  out.set(iv, MAGIC.length + SALT_BYTES);
  out.set(ciphertext, MAGIC.length + SALT_BYTES + IV_BYTES);
  return out;
}

/** Opens a sealed blob; throws {@linkcode SealError} under another measurement or root key. */
export async function unseal(
  blob: Uint8Array,
  options: { rootKey: Uint8Array; measurement: Uint8Array },
): Promise<Uint8Array> {
  const header = MAGIC.length + SALT_BYTES + IV_BYTES;
  if (blob.length < header + 16 || !MAGIC.every((byte, i) => blob[i] === byte)) {
    throw new SealError("not a sealed blob");
  }
  const salt = blob.subarray(MAGIC.length, MAGIC.length + SALT_BYTES);
  const iv = blob.slice(MAGIC.length + SALT_BYTES, header);
  const key = await deriveKey(options.rootKey, salt, options.measurement);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: options.measurement.slice() },
        key,
        blob.slice(header),
      ),
    );
  } catch {
    throw new SealError(
      "refused: the data was sealed to a different measurement or key, or altered",
    );
  }
}
