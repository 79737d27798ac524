/**
 * How the channel tests sign and seal requests as each platform does: one copy for every test
 * file, so a fix to how a platform signs reaches all of them. The end-to-end test under `tests/`
 * keeps its own, written from the platforms' documentation, so that a mistake in an adapter's
 * helpers cannot cancel itself out there.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { slackSignature } from "./slack.ts";
import { feishuSignature } from "./feishu.ts";
import { dingtalkSign } from "./dingtalk.ts";
import { wecomSignature } from "./wecom_crypto.ts";

/** Lowercase hex of `bytes`. */
export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Slack's headers for `body` sent at `seconds`: the timestamp and its `v0=` HMAC. */
export function slackHeaders(
  secret: string,
  seconds: number | string,
  body: string | Uint8Array,
): Record<string, string> {
  const ts = String(seconds);
  return { "x-slack-request-timestamp": ts, "x-slack-signature": slackSignature(secret, ts, body) };
}

/**
 * A Feishu event sealed under `encryptKey` as Feishu sends it, `{"encrypt": ...}`: AES-256-CBC
 * under SHA-256 of the key, a random IV in front. A string is sealed as it is (it is the event's
 * JSON already); anything else as its JSON.
 */
export function feishuSeal(encryptKey: string, event: unknown): string {
  const iv = randomBytes(16);
  const key = createHash("sha256").update(encryptKey).digest();
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const plain = typeof event === "string" ? event : JSON.stringify(event);
  const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final()]);
  return JSON.stringify({ encrypt: sealed.toString("base64") });
}

/** Feishu's headers for `body` pushed at `seconds` with `nonce`, signed under `encryptKey`. */
export function feishuHeaders(
  encryptKey: string,
  seconds: number | string,
  body: string | Uint8Array,
  nonce = "n1",
): Record<string, string> {
  const ts = String(seconds);
  return {
    "x-lark-request-timestamp": ts,
    "x-lark-request-nonce": nonce,
    "x-lark-signature": feishuSignature(ts, nonce, encryptKey, body),
  };
}

/** A DingTalk outgoing robot's headers at `ms`: the timestamp and its signature. */
export function dingtalkHeaders(appSecret: string, ms: number | string): Record<string, string> {
  return { timestamp: String(ms), sign: dingtalkSign(appSecret, String(ms)) };
}

/** The query WeCom signs a callback with: `msg_signature`, `timestamp` and `nonce`. */
export function wecomQuery(
  token: string,
  seconds: number | string,
  nonce: string,
  encrypted: string,
): string {
  const ts = String(seconds);
  const signature = wecomSignature(token, ts, nonce, encrypted);
  return `msg_signature=${signature}&timestamp=${ts}&nonce=${nonce}`;
}

/** A Discord application's key pair: the public key as the adapter is configured with it. */
export interface DiscordKeys {
  /** The raw public key in hex. */
  publicKey: string;
  /** The key requests are signed with. */
  privateKey: CryptoKey;
}

/** A new Ed25519 key pair, as a Discord application has one. */
export async function discordKeys(): Promise<DiscordKeys> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

/** Discord's headers for `body` sent at `seconds`: Ed25519 over the timestamp and the body. */
export async function discordHeaders(
  privateKey: CryptoKey,
  seconds: number | string,
  body: string,
): Promise<Record<string, string>> {
  const ts = String(seconds);
  const signature = await crypto.subtle.sign(
    { name: "Ed25519" },
    privateKey,
    new TextEncoder().encode(ts + body),
  );
  return { "x-signature-ed25519": hex(signature), "x-signature-timestamp": ts };
}
