/**
 * Payload protection with WebCrypto: AES-256-GCM encryption or HMAC-SHA256 signatures, with
 * per-subject keys. The envelope names the key id, so rotating keys (adding a newer key for the
 * same subjects) keeps old events readable for as long as the old key stays in the ring.
 */
import { z } from "zod";
import { ValidationError } from "@a3s/common";
import type { CloudEvent } from "./envelope.ts";
import { EventKeyMissingError, EventTamperedError } from "./errors.ts";
import { assertPattern, compilePattern } from "./subject.ts";

/** A key as configured; `subjects` defaults to `>` and `mode` to `encrypt`. */
export interface EventKey {
  /** Key id, carried in sealed envelopes as `a3skid`. */
  id: string;
  /** Subject pattern the key seals (default `>`). */
  subjects?: string;
  /** `encrypt` (AES-256-GCM, default) or `sign` (HMAC-SHA256). */
  mode?: "encrypt" | "sign";
  /** 32 random bytes, base64. */
  secret: string;
}

/** A key after validation, with defaults applied. */
export interface SealingKey {
  /** Key id, carried in sealed envelopes as `a3skid`. */
  id: string;
  /** Subject pattern the key seals. */
  subjects: string;
  /** `encrypt` (AES-256-GCM) or `sign` (HMAC-SHA256). */
  mode: "encrypt" | "sign";
  /** 32 random bytes, base64. */
  secret: string;
}

/** One configured key. The secret is 32 random bytes, base64. */
export const EventKeySchema: z.ZodType<SealingKey, EventKey> = z.object({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1 to 64 letters, digits, '.', '_' or '-'"),
  /** Subjects this key protects; the last matching key in the ring seals new events. */
  subjects: z.string().default(">"),
  /** `encrypt` (AES-256-GCM) or `sign` (HMAC-SHA256, payload stays readable). */
  mode: z.enum(["encrypt", "sign"]).default("encrypt"),
  secret: z.string().min(1),
});

const ALGORITHM = "A256GCM";
const IV_BYTES = 12;

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** JSON with object keys sorted at every level, so both ends sign the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** Every attribute except the payload and the seal itself: what the seal also vouches for. */
function attributesOf(event: CloudEvent): Record<string, unknown> {
  const { data: _data, data_base64: _b64, a3ssig: _sig, datacontenttype: _ct, ...rest } = event;
  return rest;
}

interface LoadedKey {
  id: string;
  mode: "encrypt" | "sign";
  matches: (subject: string) => boolean;
  aes: CryptoKey;
  hmac: CryptoKey;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function deriveKeys(secret: Uint8Array<ArrayBuffer>, id: string) {
  const base = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
  const info = (purpose: string) => encoder.encode(`a3s-event ${purpose} ${id}`);
  const salt = new Uint8Array(32);
  const aes = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: info("aes") },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  const hmac = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: info("hmac") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
  return { aes, hmac };
}

/**
 * The keys of one process. Sealing picks the last key whose subjects match; opening uses the
 * key id in the envelope.
 *
 * @example
 * ```ts
 * import { KeyRing } from "@a3s/event";
 * const secret = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
 * const ring = await KeyRing.create([{ id: "k1", subjects: "secret.>", secret }]);
 * ```
 */
export class KeyRing {
  readonly #keys: LoadedKey[];

  private constructor(keys: LoadedKey[]) {
    this.#keys = keys;
  }

  /** Imports `keys`; a malformed key throws a validation error naming it. */
  static async create(keys: readonly EventKey[]): Promise<KeyRing> {
    const loaded: LoadedKey[] = [];
    for (const [index, raw] of keys.entries()) {
      const parsed = EventKeySchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = ["keys", index, ...issue.path].join(".");
        throw new ValidationError(`${field}: ${issue.message}`, field);
      }
      const key = parsed.data;
      assertPattern(key.subjects, `keys.${index}.subjects`);
      let secret: Uint8Array<ArrayBuffer>;
      try {
        secret = fromBase64(key.secret);
      } catch {
        throw new ValidationError(`keys.${index}.secret: not base64`, `keys.${index}.secret`);
      }
      if (secret.length !== 32) {
        throw new ValidationError(
          `keys.${index}.secret: must decode to 32 bytes, got ${secret.length}`,
          `keys.${index}.secret`,
        );
      }
      loaded.push({
        id: key.id,
        mode: key.mode,
        matches: compilePattern(key.subjects),
        ...(await deriveKeys(secret, key.id)),
      });
    }
    return new KeyRing(loaded);
  }

  /** Reads `{ "keys": [...] }` from a JSON key file. */
  static async fromFile(path: string): Promise<KeyRing> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      throw new ValidationError(`keyFile: ${path}: ${(error as Error).message}`, "keyFile");
    }
    const keys = (parsed as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) {
      throw new ValidationError(`keyFile: ${path} has no "keys" array`, "keyFile");
    }
    return await KeyRing.create(keys as EventKey[]);
  }

  /** A fresh random secret in the form a key takes. */
  static generateSecret(): string {
    return toBase64(crypto.getRandomValues(new Uint8Array(32)));
  }

  /** How many keys the ring holds. */
  get size(): number {
    return this.#keys.length;
  }

  #sealingKey(subject: string): LoadedKey | undefined {
    for (let i = this.#keys.length - 1; i >= 0; i--) {
      if (this.#keys[i].matches(subject)) return this.#keys[i];
    }
    return undefined;
  }

  /** Encrypts or signs `event` when a key covers its subject; otherwise returns it unchanged. */
  async seal(event: CloudEvent): Promise<CloudEvent> {
    const key = this.#sealingKey(event.subject);
    if (!key) return event;
    const sealed: CloudEvent = { ...event, a3skid: key.id };
    if (key.mode === "sign") {
      const bytes = encoder.encode(canonicalJson([attributesOf(sealed), sealed.data ?? null]));
      const signature = await crypto.subtle.sign("HMAC", key.hmac, bytes);
      sealed.a3ssig = toBase64(new Uint8Array(signature));
      return sealed;
    }
    delete sealed.data;
    sealed.a3senc = ALGORITHM;
    sealed.datacontenttype = "application/octet-stream";
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ciphertext = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv,
        additionalData: encoder.encode(canonicalJson(attributesOf(sealed))),
      },
      key.aes,
      encoder.encode(JSON.stringify(event.data ?? null)),
    );
    const out = new Uint8Array(IV_BYTES + ciphertext.byteLength);
    out.set(iv);
    out.set(new Uint8Array(ciphertext), IV_BYTES);
    sealed.data_base64 = toBase64(out);
    return sealed;
  }

  /**
   * Verifies and decrypts `event`, returning it with plain `data`. Throws
   * {@linkcode EventKeyMissingError} for an unknown key id and {@linkcode EventTamperedError}
   * when a check fails or a subject that must be sealed arrives without a seal.
   */
  async open(event: CloudEvent): Promise<CloudEvent> {
    if (event.a3skid === undefined) {
      const expected = this.#sealingKey(event.subject);
      if (expected) {
        throw new EventTamperedError(event.subject, `unsealed, but key '${expected.id}' covers it`);
      }
      if (event.a3senc !== undefined || event.a3ssig !== undefined) {
        throw new EventTamperedError(event.subject, "seal without a key id");
      }
      return event;
    }
    const key = this.#keys.find((k) => k.id === event.a3skid);
    if (!key) throw new EventKeyMissingError(event.a3skid, event.subject);
    if (event.a3senc !== undefined) {
      if (event.a3senc !== ALGORITHM || typeof event.data_base64 !== "string") {
        throw new EventTamperedError(event.subject, `unsupported encryption '${event.a3senc}'`);
      }
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = fromBase64(event.data_base64);
      } catch {
        throw new EventTamperedError(event.subject, "ciphertext is not base64");
      }
      let plain: ArrayBuffer;
      try {
        plain = await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: bytes.subarray(0, IV_BYTES),
            additionalData: encoder.encode(canonicalJson(attributesOf(event))),
          },
          key.aes,
          bytes.subarray(IV_BYTES),
        );
      } catch {
        throw new EventTamperedError(event.subject, "authentication tag does not match");
      }
      const opened: CloudEvent = { ...event, datacontenttype: "application/json" };
      delete opened.data_base64;
      delete opened.a3senc;
      opened.data = JSON.parse(decoder.decode(plain));
      return opened;
    }
    if (typeof event.a3ssig !== "string") {
      throw new EventTamperedError(event.subject, "key id without encryption or signature");
    }
    let signature: Uint8Array<ArrayBuffer>;
    try {
      signature = fromBase64(event.a3ssig);
    } catch {
      throw new EventTamperedError(event.subject, "signature is not base64");
    }
    const bytes = encoder.encode(canonicalJson([attributesOf(event), event.data ?? null]));
    if (!(await crypto.subtle.verify("HMAC", key.hmac, signature, bytes))) {
      throw new EventTamperedError(event.subject, "signature does not match");
    }
    return event;
  }
}
