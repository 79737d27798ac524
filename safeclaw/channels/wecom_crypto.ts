/**
 * WeCom's message crypto (企业微信 回调加解密), also used by DingTalk's encrypted callbacks:
 * the AES key is the Base64 `EncodingAESKey` plus "=" (32 bytes), the IV its first 16 bytes,
 * AES-256-CBC with PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes, the
 * message length (4 bytes, big-endian), the message and the receiver id (corp id or suite key).
 * `msg_signature` is the SHA-1 of token, timestamp, nonce and the ciphertext, sorted and joined.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const BLOCK = 32;

/** The `msg_signature` of one callback. */
export function wecomSignature(
  token: string,
  timestamp: string,
  nonce: string,
  encrypted: string,
): string {
  return createHash("sha1").update([token, timestamp, nonce, encrypted].sort().join("")).digest(
    "hex",
  );
}

function keyOf(encodingAesKey: string): Buffer {
  const key = Buffer.from(encodingAesKey + "=", "base64");
  if (key.length !== 32) throw new Error("EncodingAESKey must be 43 Base64 characters");
  return key;
}

/** Decrypts `encrypted`; returns the message and the receiver id it was sealed for. */
export function wecomDecrypt(
  encodingAesKey: string,
  encrypted: string,
): { message: string; receiverId: string } {
  const key = keyOf(encodingAesKey);
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([
    decipher.update(Buffer.from(encrypted, "base64")),
    decipher.final(),
  ]);
  const pad = padded[padded.length - 1];
  if (pad < 1 || pad > BLOCK) throw new Error("bad padding");
  const plain = padded.subarray(0, padded.length - pad);
  const length = plain.readUInt32BE(16);
  if (20 + length > plain.length) throw new Error("bad message length");
  return {
    message: plain.subarray(20, 20 + length).toString("utf8"),
    receiverId: plain.subarray(20 + length).toString("utf8"),
  };
}

/** Encrypts `message` for `receiverId` (for replies in passive mode, and for tests). */
export function wecomEncrypt(encodingAesKey: string, message: string, receiverId: string): string {
  const key = keyOf(encodingAesKey);
  const body = Buffer.from(message, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const plain = Buffer.concat([randomBytes(16), length, body, Buffer.from(receiverId, "utf8")]);
  const pad = BLOCK - (plain.length % BLOCK);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([
    cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])),
    cipher.final(),
  ])
    .toString("base64");
}
