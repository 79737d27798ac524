/**
 * DingTalk: an outgoing robot's callback carries `timestamp` (ms) and `sign` headers, `sign` being
 * Base64(HMAC-SHA256(AppSecret, timestamp + "\n" + AppSecret)), and the timestamp must be within
 * an hour of now. The reply goes to the message's `sessionWebhook`, which must be on the DingTalk
 * API host: a URL that came in a request is never fetched elsewhere. It is kept for that until its
 * `sessionWebhookExpiredTime`, one per signed request.
 */
import { sendParts } from "./message_parts.ts";
import { RATE_WINDOW_MS, sendRefused } from "./rate_limit.ts";
import {
  freshness,
  replayWindow,
  type ReplayWindowOptions,
  ReplyHandles,
} from "./replay_window.ts";
import { createHmac } from "node:crypto";
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

/** DingTalk settings. */
export interface DingtalkOptions extends ReplayWindowOptions {
  appSecret: string;
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
 * The DingTalk adapter.
 *
 * @example
 * ```ts
 * import { dingtalkChannel } from "./dingtalk.ts";
 * console.log(dingtalkChannel({ appSecret: "s" }).name); // "dingtalk"
 * ```
 */
/**
 * The `errcode` of a robot's message over its rate (130101: more than 20 a minute), which says
 * no time to wait: the next try comes after a minute.
 */
export const DINGTALK_RATE_LIMITED = 130101;

export function dingtalkChannel(options: DingtalkOptions): DingtalkAdapter {
  const allowed = new URL(options.apiBase ?? "https://oapi.dingtalk.com").origin;
  const { now, windowMs } = replayWindow(options, DINGTALK_WINDOW_MS);
  const webhooks = new ReplyHandles<string>({ maxEntries: options.maxPendingReplies, now });
  return {
    name: "dingtalk",
    get pendingReplies() {
      return webhooks.size;
    },
    receive(request, rawBody): Promise<WebhookResult> {
      const unauthorized = (reason: string) =>
        Promise.resolve<WebhookResult>({ kind: "unauthorized", reason });
      const timestamp = request.headers.get("timestamp") ?? "";
      const sign = request.headers.get("sign") ?? "";
      if (!/^\d+$/.test(timestamp) || !sign) return unauthorized("missing timestamp or sign");
      const stale = freshness({ text: timestamp, unit: "ms", now: now(), windowMs });
      if (stale) return unauthorized(stale);
      if (!constantTimeEqual(sign, dingtalkSign(options.appSecret, timestamp))) {
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
