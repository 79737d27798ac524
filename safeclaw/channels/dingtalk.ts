/**
 * DingTalk, in two modes on one URL.
 *
 * An outgoing robot's callback carries `timestamp` (ms) and `sign` headers, `sign` being
 * Base64(HMAC-SHA256(AppSecret, timestamp + "\n" + AppSecret)), and the timestamp must be within
 * an hour of now. The reply goes to the message's `sessionWebhook`, which must be on the DingTalk
 * API host: a URL that came in a request is never fetched elsewhere. It is kept for that until its
 * `sessionWebhookExpiredTime`, one per signed request.
 *
 * An event subscription's HTTP push (事件订阅) carries `msg_signature` (older pushes:
 * `signature`), `timestamp` and `nonce` in the query and `{"encrypt": ...}` as the body, in
 * WeCom's message crypto (`wecom_crypto.ts`): the signature is the SHA-1 of the sorted token,
 * timestamp, nonce and ciphertext, checked before anything is decrypted; the plaintext is sealed
 * for the app's key. Every push, the `check_url` sent when the URL is saved included, is answered
 * with "success" encrypted the same way, `{msg_signature, timeStamp, nonce, encrypt}`, within
 * DingTalk's 1.5 s; otherwise the URL is not saved and events are pushed again. Events are
 * acknowledged, not acted on: chat messages reach a robot through the outgoing callback.
 *
 * Not confirmed from DingTalk's documentation, and done as its official SDKs (DingTalk-Callback-
 * Crypto) do: the push's timestamp is in milliseconds (the SDK's sample push has 13 digits; 10
 * are read as seconds), the answer's `timeStamp` is in milliseconds (the Java SDK's
 * `System.currentTimeMillis()`), and DingTalk states no window for it, so the robot's hour
 * applies.
 */
import { sendParts } from "./message_parts.ts";
import { RATE_WINDOW_MS, sendRefused } from "./rate_limit.ts";
import {
  freshness,
  replayWindow,
  type ReplayWindowOptions,
  ReplyHandles,
} from "./replay_window.ts";
import { createHmac, randomInt } from "node:crypto";
import { wecomDecrypt, wecomEncrypt, wecomSignature } from "./wecom_crypto.ts";
import { z } from "zod";
import {
  type ChannelAdapter,
  type ChannelMessage,
  constantTimeEqual,
  readPayload,
  type ReplyProgress,
  sessionKey,
  type WebhookResult,
} from "./types.ts";

/** The keys of a DingTalk event subscription's HTTP push, from the app's event subscription page. */
export interface DingtalkEventSubscription {
  /** The Token that signs each push. */
  token: string;
  /** The EncodingAESKey: 43 Base64 characters. */
  aesKey: string;
  /**
   * Whom pushes are sealed for: the app's AppKey for an internal app's event subscription (the
   * corp id for a callback registered through the old API, the suite key for a third-party app).
   */
  appKey: string;
}

/** DingTalk settings: one mode or both. */
export interface DingtalkOptions extends ReplayWindowOptions {
  /** The outgoing robot's AppSecret, which signs its callbacks. */
  appSecret?: string;
  /** The event subscription's HTTP push. */
  eventSubscription?: DingtalkEventSubscription;
  /** Where `sessionWebhook` URLs may point (tests point it at a local fake). */
  apiBase?: string;
  /** The most session webhooks kept for replies at once (10,000 unless given). */
  maxPendingReplies?: number;
}

/** How far a callback's timestamp may be from now, as DingTalk documents. */
export const DINGTALK_WINDOW_MS = 3_600_000;

/**
 * The longest a `sessionWebhook` is kept for a reply: until its `sessionWebhookExpiredTime`,
 * never longer than this (the field is not signed), and this long when the message gives none.
 */
export const DINGTALK_WEBHOOK_MAX_MS = 2 * 3_600_000;

/** The DingTalk adapter: a channel adapter that also says how many replies it holds a webhook for. */
export interface DingtalkAdapter extends ChannelAdapter {
  /** How many session webhooks are kept for replies not yet sent. */
  readonly pendingReplies: number;
}

/** The `sign` header of a callback sent at `timestamp`. */
export function dingtalkSign(appSecret: string, timestamp: string): string {
  return createHmac("sha256", appSecret).update(`${timestamp}\n${appSecret}`).digest("base64");
}

/** What DingTalk wants back, encrypted, from every push. */
export const DINGTALK_EVENT_SUCCESS = "success";

/** The body of an event push. */
const DingtalkEncrypted = z.object({ encrypt: z.string() });

const NONCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * The answer to an event push: `plaintext` sealed for the app's key and signed, as DingTalk
 * reads it (`{msg_signature, timeStamp, nonce, encrypt}`).
 */
export function dingtalkEventReply(
  subscription: DingtalkEventSubscription,
  plaintext: string,
  nowMs: number,
): { msg_signature: string; timeStamp: string; nonce: string; encrypt: string } {
  const timeStamp = String(nowMs);
  let nonce = "";
  for (let i = 0; i < 16; i++) nonce += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  const encrypt = wecomEncrypt(subscription.aesKey, plaintext, subscription.appKey);
  const msg_signature = wecomSignature(subscription.token, timeStamp, nonce, encrypt);
  return { msg_signature, timeStamp, nonce, encrypt };
}

/** The fields of a robot's incoming message the adapter reads, with DingTalk's types. */
const DingtalkMessage = z.object({
  msgtype: z.string().optional(),
  text: z.object({ content: z.string().optional() }).optional(),
  senderStaffId: z.string().optional(),
  senderId: z.string().optional(),
  conversationId: z.string().optional(),
  sessionWebhook: z.string().optional(),
  /** When `sessionWebhook` stops working, in milliseconds. */
  sessionWebhookExpiredTime: z.union([z.number(), z.string()]).optional(),
  msgId: z.string().optional(),
});

/**
 * The `errcode` of a robot's message over its rate (130101: more than 20 a minute), which says
 * no time to wait: the next try comes after a minute.
 */
export const DINGTALK_RATE_LIMITED = 130101;

/**
 * The DingTalk adapter.
 *
 * @example
 * ```ts
 * import { dingtalkChannel } from "./dingtalk.ts";
 * console.log(dingtalkChannel({ appSecret: "s" }).name); // "dingtalk"
 * ```
 */
export function dingtalkChannel(options: DingtalkOptions): DingtalkAdapter {
  const allowed = new URL(options.apiBase ?? "https://oapi.dingtalk.com").origin;
  const { now, windowMs } = replayWindow(options, DINGTALK_WINDOW_MS);
  const webhooks = new ReplyHandles<string>({ maxEntries: options.maxPendingReplies, now });

  function receiveEvent(query: URLSearchParams, rawBody: Uint8Array): WebhookResult {
    const unauthorized = (reason: string): WebhookResult => ({ kind: "unauthorized", reason });
    const events = options.eventSubscription;
    if (!events) return unauthorized("no event subscription is configured");
    // One value of each: with two, which one a check read and which one a later step used
    // could differ.
    const values = (...names: string[]) => names.flatMap((name) => query.getAll(name));
    const signatures = values("msg_signature", "signature");
    const timestamps = values("timestamp", "timeStamp");
    const nonces = values("nonce");
    if (signatures.length !== 1 || timestamps.length !== 1 || nonces.length !== 1) {
      return unauthorized("missing or repeated signature parameters");
    }
    const [signature, timestamp, nonce] = [signatures[0], timestamps[0], nonces[0]];
    const stale = freshness({
      text: timestamp,
      unit: timestamp.length >= 13 ? "ms" : "s",
      now: now(),
      windowMs,
    });
    if (stale) return unauthorized(stale);
    const body = readPayload(DingtalkEncrypted, rawBody);
    if (!body) return unauthorized("body is not an encrypted event");
    const expected = wecomSignature(events.token, timestamp, nonce, body.encrypt);
    if (!constantTimeEqual(signature, expected)) {
      return unauthorized("msg_signature does not match");
    }
    let opened: { message: string; receiverId: string };
    try {
      opened = wecomDecrypt(events.aesKey, body.encrypt);
    } catch {
      return unauthorized("payload does not decrypt");
    }
    if (opened.receiverId !== events.appKey) return unauthorized("sealed for another app");
    // check_url and every other event alike: DingTalk wants its "success" back from each.
    return {
      kind: "reply",
      response: Response.json(dingtalkEventReply(events, DINGTALK_EVENT_SUCCESS, now())),
    };
  }

  return {
    name: "dingtalk",
    get pendingReplies() {
      return webhooks.size;
    },
    receive(request, rawBody): Promise<WebhookResult> {
      const unauthorized = (reason: string) =>
        Promise.resolve<WebhookResult>({ kind: "unauthorized", reason });
      const query = new URL(request.url).searchParams;
      if (query.has("msg_signature") || query.has("signature")) {
        return Promise.resolve(receiveEvent(query, rawBody));
      }
      const appSecret = options.appSecret;
      if (!appSecret) return unauthorized("no outgoing robot is configured");
      const timestamp = request.headers.get("timestamp") ?? "";
      const sign = request.headers.get("sign") ?? "";
      if (!/^\d+$/.test(timestamp) || !sign) return unauthorized("missing timestamp or sign");
      const stale = freshness({ text: timestamp, unit: "ms", now: now(), windowMs });
      if (stale) return unauthorized(stale);
      if (!constantTimeEqual(sign, dingtalkSign(appSecret, timestamp))) {
        return unauthorized("sign does not match");
      }
      const m = readPayload(DingtalkMessage, rawBody);
      if (!m) return Promise.resolve({ kind: "ignored" });
      const userId = m.senderStaffId ?? m.senderId;
      if (
        m.msgtype !== "text" || !m.text?.content || !userId || !m.conversationId ||
        !m.sessionWebhook
      ) {
        return Promise.resolve({ kind: "ignored" });
      }
      let origin: string;
      try {
        origin = new URL(m.sessionWebhook).origin;
      } catch {
        return Promise.resolve({ kind: "ignored" });
      }
      if (origin !== allowed) return Promise.resolve({ kind: "ignored" });
      // One webhook per signature, which the hub accepts for one event only (`signatureOnce`),
      // and the first request's stays: captured headers replayed with other bodies, which the
      // hub refuses, neither redirect the reply nor add entries, whatever `msgId` they carry.
      const signed = `${timestamp}:${sign}`;
      const limit = now() + DINGTALK_WEBHOOK_MAX_MS;
      const given = Number(m.sessionWebhookExpiredTime);
      const expires = m.sessionWebhookExpiredTime !== undefined && Number.isFinite(given)
        ? Math.min(given, limit)
        : limit;
      webhooks.add(signed, m.sessionWebhook, expires);
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "dingtalk",
          userId,
          chatId: m.conversationId,
          text: m.text.content.trim(),
          session: sessionKey("dingtalk", userId, m.conversationId),
          messageId: m.msgId,
          deliveryId: m.msgId,
          signatureOnce: signed,
        },
      });
    },
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      const url = webhooks.get(message.signatureOnce ?? "");
      if (!url) throw new Error("dingtalk: no session webhook for this message");
      // In parts of 4,000 characters, well within what a text message takes; the webhook stays
      // until all are sent, so a retry of a failed send can use it. One whose reply never gets
      // through is dropped when it expires.
      await sendParts(text, { size: 4000 }, progress, async (part) => {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ msgtype: "text", text: { content: part } }),
        });
        const body = await res.json() as { errcode?: number; errmsg?: string };
        if (body.errcode) {
          throw sendRefused(
            `dingtalk sessionWebhook: ${body.errmsg}`,
            body.errcode === DINGTALK_RATE_LIMITED ? RATE_WINDOW_MS : undefined,
          );
        }
      });
      webhooks.delete(message.signatureOnce!);
    },
  };
}
