/** What every chat channel adapter shares: the normalized message and the adapter contract. */
import type { z } from "zod";
import { parseJson } from "@a3s/common";
import { createHash } from "node:crypto";

/** A message from any platform, keyed by `user_id:channel_id:chat_id`. */
export interface ChannelMessage {
  /** `telegram`, `slack`, `discord`, ... */
  channel: string;
  userId: string;
  chatId: string;
  text: string;
  /** `<user_id>:<channel>:<chat_id>`: the session key everywhere in safeclaw. */
  session: string;
  /** The platform's own message id, for replies. */
  messageId?: string;
  /**
   * The platform's id of this event, the same on each of its deliveries (Slack's `event_id`,
   * Telegram's `update_id`, ...): platforms deliver again when an answer is slow or lost, and a
   * captured request can be sent again inside its signature's window, so the hub handles each
   * id once.
   */
  deliveryId?: string;
  /**
   * The request's signature. The hub accepts one signature with one body only: DingTalk signs
   * its timestamp alone and WeCom its `Encrypt` element alone, so without this a captured
   * request's signature could carry another body inside the window. The same signature with the
   * same bytes again is a redelivery, acknowledged and audited, not answered.
   */
  signatureOnce?: string;
  /** The platform's thread the message is in, where the reply should go too. */
  threadId?: string;
}

/** The outcome of reading one webhook request. */
export type WebhookResult =
  /** Signature verified; a message to handle. */
  | { kind: "message"; message: ChannelMessage }
  /** Signature verified; the platform wants this exact answer (a URL check, a ping). */
  | { kind: "reply"; response: Response }
  /** Signature verified; nothing to do (an edit, a bot's own message). */
  | { kind: "ignored" }
  /** Unsigned, wrongly signed or replayed: 401, audited. */
  | { kind: "unauthorized"; reason: string };

/**
 * How far one reply got. A long reply goes out in several messages; when the platform refuses
 * one, the hub tries the reply again with the same progress, so that the messages the user
 * already has are not sent a second time.
 */
export interface ReplyProgress {
  /** How many of the reply's parts the platform has taken, from the first. */
  partsSent: number;
}

/** One platform. */
export interface ChannelAdapter {
  name: string;
  /**
   * Verifies the request exactly as the platform documents it and normalizes it. `client` is
   * the address it came from (`client_address.ts`), for work an adapter budgets per sender.
   */
  receive(request: Request, rawBody: Uint8Array, client?: string): Promise<WebhookResult>;
  /**
   * Sends `text` to the chat of `message` through the platform's API: the parts after
   * `progress.partsSent`, counting each one the platform takes.
   */
  send(message: ChannelMessage, text: string, progress: ReplyProgress): Promise<void>;
  /**
   * The answer to a verified request the platform is not sent a reply in: a message queued for
   * an answer through the API, an event ignored, a redelivery. `{"ok":true}` unless given:
   * Discord needs an interaction response, WeCom an empty body.
   */
  acknowledge?(): Response;
}

/** The longest a key's part stays as it is; a longer one is hashed, so a key fits lane's 200. */
const MAX_KEY_PART = 60;

/**
 * A platform's id as a part of a session key: kept where it is plain (letters, digits, `.`, `_`,
 * `@`, `+`, `/`, `-`), each other UTF-8 byte written `=XX`, so an id with a `:` cannot pose as
 * another key's parts and one with a space, a NUL or a name like `josé` still makes a key lane
 * takes; a long one is hashed.
 */
function keyPart(id: string): string {
  let part = "";
  for (const byte of new TextEncoder().encode(id.toWellFormed())) {
    const c = String.fromCharCode(byte);
    part += /[\w.@+/-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (part.length <= MAX_KEY_PART) return part;
  return `=${createHash("sha256").update(id).digest("hex").slice(0, 40)}`;
}

/**
 * The session key of a platform message: `<user_id>:<channel>:<chat_id>`, each id written as
 * {@linkcode keyPart} writes it (a plain id as it is).
 *
 * @example
 * ```ts
 * import { sessionKey } from "./types.ts";
 * console.log(sessionKey("telegram", "42", "-1001")); // "42:telegram:-1001"
 * console.log(sessionKey("webchat", "josé:x", "ab12")); // "jos=C3=A9=3Ax:webchat:ab12"
 * ```
 */
export function sessionKey(channel: string, userId: string, chatId: string): string {
  return `${keyPart(userId)}:${channel}:${keyPart(chatId)}`;
}

/**
 * A webhook's JSON body read as `schema` describes it, or `undefined` when it is not JSON or
 * not of that shape. Bodies are read only after their signature verified, but a platform also
 * signs events of kinds no adapter reads, whose fields may have other types: those are ignored,
 * never half-read.
 */
export function readPayload<T>(schema: z.ZodType<T>, body: Uint8Array | string): T | undefined {
  const parsed = parseJson(
    schema,
    typeof body === "string" ? body : new TextDecoder().decode(body),
  );
  return parsed.ok ? parsed.value : undefined;
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * `text` without `[start, end)` and the spaces after it (before it, at the end), and nothing
 * else: the rest of the text, a pasted snippet's indentation included, stays as written.
 */
export function withoutSpan(text: string, start: number, end: number): string {
  const after = text.slice(end).replace(/^[ \t]+/, "");
  const before = text.slice(0, start);
  return after ? before + after : before.trimEnd();
}
