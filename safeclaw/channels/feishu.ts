/**
 * Feishu (Lark): with an Encrypt Key set, each event is `{"encrypt": ...}`: AES-256-CBC under
 * SHA-256(Encrypt Key), the IV in the first 16 bytes; `X-Lark-Signature` is the SHA-256 hex of
 * timestamp + nonce + Encrypt Key followed by the raw body bytes. The signature is checked before
 * anything is decrypted, as Feishu means it to be ("无需解密"): decrypting an unsigned body first
 * made every request a CBC padding oracle that read captured events without the key. Only the
 * URL check may come unsigned; an unsigned body is decrypted for it alone, and a client network
 * whose unsigned requests keep failing is refused undecrypted for the rest of the minute, as is
 * every client once all of them together have failed too often in it. The verification token
 * sits in the payload (`token`, or `header.token` in schema 2.0). Redelivered events repeat
 * their `event_id` and are acknowledged once. Each push, retries included, is signed when sent:
 * an `X-Lark-Request-Timestamp` more than five minutes from now is a replay, and so is an event
 * whose `header.create_time` is older than Feishu's retries reach (the URL check is exempt: it
 * runs nothing). Replies answer the message through `im/v1/messages/:id/reply` (in its thread
 * when it came in one) with a tenant access token.
 */
import { sendParts } from "./message_parts.ts";
import { secondsToMs, sendRefused } from "./rate_limit.ts";
import {
  ClientFailureBudget,
  freshness,
  replayWindow,
  type ReplayWindowOptions,
} from "./replay_window.ts";
import { UNKNOWN_CLIENT } from "./client_address.ts";
import { createDecipheriv, createHash } from "node:crypto";
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

/** Feishu settings. */
export interface FeishuOptions extends ReplayWindowOptions {
  appId: string;
  appSecret: string;
  verificationToken: string;
  encryptKey: string;
  apiBase?: string;
}

/**
 * The `code` of a request refused for its rate (HTTP 429, 400 from older APIs), which sends the
 * seconds to wait in the `x-ogw-ratelimit-reset` header.
 */
export const FEISHU_RATE_LIMITED = 99991400;

/** The `code` of a call whose tenant access token is invalid or expired. */
export const FEISHU_TOKEN_INVALID = 99991663;

/**
 * The oldest an event's `header.create_time` may be. An event not answered with a 200 is pushed
 * again after 5 s, 5 min, 1 h and 6 h, each push signed anew: the last comes about 7 h after the
 * first. Twelve hours leave room for that, and stay far short of the hub's delivery memory.
 */
export const FEISHU_EVENT_MAX_AGE_MS = 12 * 3_600_000;

/**
 * How many unsigned requests a minute that fail (they are not a URL check sealed under the
 * Encrypt Key with the verification token) one client network may send (an IPv4 address, an
 * IPv6 /64) before its unsigned requests are refused undecrypted. Feishu sends its check once,
 * when the request URL is saved, and it never fails, so it spends nothing; failures count only
 * against the network they came from, so a sender gets Feishu's check refused only by spending
 * the overall budget ({@linkcode FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL}). Every refusal
 * answers alike, its audit record is written after the answer, and the budget bounds what a
 * network can learn by timing the decryption. The network is the client address serve's
 * security layer decided (see `client_address.ts`): behind a reverse proxy, name it in
 * `trustedProxies`, or all requests share its budget.
 */
export const FEISHU_UNSIGNED_FAILURES_PER_MINUTE = 30;

/**
 * How many failed unsigned requests a minute all client networks together may send before
 * every unsigned request is refused undecrypted until the minute turns. The budget of each
 * network alone bounded nothing overall: an IPv6 /48 holds 65,536 /64s, each a network with
 * {@linkcode FEISHU_UNSIGNED_FAILURES_PER_MINUTE} of its own, so a sender with one could have
 * about two million bodies decrypted a minute. A thousand is some thirty networks' budgets, and
 * with bodies bounded by the hub at 1 MiB, seconds of CPU a minute at most. Once it is spent,
 * Feishu's URL check is refused as well until the minute turns (nothing tells it from a
 * forgery before it is decrypted): the operator saving the request URL then tries again.
 * Signed events, all of Feishu's traffic but that check, never touch this budget.
 */
export const FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL = 1_000;

/** The audit reason of an unsigned request refused for its own network's budget. */
export const FEISHU_CLIENT_OVER_BUDGET_REASON =
  "unsigned request from a client over its failed URL checks a minute";

/** The audit reason of an unsigned request refused because the overall budget is spent. */
export const FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON =
  "unsigned request while all clients together are over their failed URL checks a minute";

/** The `X-Lark-Signature` of a request: over the body's bytes as sent (a string as UTF-8). */
export function feishuSignature(
  timestamp: string,
  nonce: string,
  encryptKey: string,
  body: string | Uint8Array,
): string {
  return createHash("sha256").update(timestamp + nonce + encryptKey).update(body).digest("hex");
}

/** Decrypts an `encrypt` field. */
export function feishuDecrypt(encryptKey: string, encrypted: string): string {
  const key = createHash("sha256").update(encryptKey).digest();
  const buf = Buffer.from(encrypted, "base64");
  const decipher = createDecipheriv("aes-256-cbc", key, buf.subarray(0, 16));
  return Buffer.concat([decipher.update(buf.subarray(16)), decipher.final()]).toString("utf8");
}

/** A text message's `content`, itself JSON. */
const FeishuTextContent = z.object({ text: z.string() });

/** The envelope of every event when an Encrypt Key is set. */
const FeishuEnvelope = z.object({ encrypt: z.string() });

/** The fields of a decrypted event (schema 2.0, or 1.0's URL check) the adapter reads. */
const FeishuEvent = z.object({
  type: z.string().optional(),
  challenge: z.string().optional(),
  token: z.string().optional(),
  header: z.object({
    event_id: z.string().optional(),
    event_type: z.string().optional(),
    token: z.string().optional(),
    /** When the event happened, in milliseconds (a string). */
    create_time: z.union([z.string(), z.number()]).optional(),
  }).optional(),
  event: z.object({
    sender: z.object({
      sender_id: z.object({ open_id: z.string().optional() }).optional(),
      sender_type: z.string().optional(),
    }).optional(),
    message: z.object({
      chat_id: z.string().optional(),
      message_id: z.string().optional(),
      thread_id: z.string().optional(),
      message_type: z.string().optional(),
      content: z.string().optional(),
      mentions: z.array(z.object({ key: z.string(), name: z.string().optional() })).optional(),
    }).optional(),
  }).optional(),
});

/** Feishu's placeholder of a mention in a message's text: `@_user_1`, `@_all`. */
const MENTION_KEY = /@_(?:user_\d+|all)/g;

/**
 * A text message as the user meant it: the mentions that address it at its start (the bot's,
 * in a group) are dropped, and each later placeholder becomes the name it stands for.
 */
export function feishuMessageText(
  text: string,
  mentions: readonly { key: string; name?: string }[] = [],
): string {
  const names = new Map(mentions.map((m) => [m.key, m.name]));
  const rest = text.replace(/^(?:\s*@_(?:user_\d+|all))+[ \t]*/, "").replace(
    MENTION_KEY,
    (key) => {
      const name = names.get(key);
      return name ? `@${name}` : key;
    },
  );
  return rest.trim() ? rest : "";
}

/**
 * The Feishu adapter.
 *
 * @example
 * ```ts
 * import { feishuChannel } from "./feishu.ts";
 * const feishu = feishuChannel({ appId: "cli_1", appSecret: "s", verificationToken: "v", encryptKey: "k" });
 * console.log(feishu.name); // "feishu"
 * ```
 */
export function feishuChannel(options: FeishuOptions): ChannelAdapter {
  const apiBase = (options.apiBase ?? "https://open.feishu.cn").replace(/\/$/, "");
  let tenantToken: { value: string; expires: number } | undefined;
  const { now, windowMs } = replayWindow(options);
  const unsignedFailures = new ClientFailureBudget({
    perClient: FEISHU_UNSIGNED_FAILURES_PER_MINUTE,
    overall: FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL,
    now,
  });

  async function token(): Promise<string> {
    if (tenantToken && tenantToken.expires > Date.now()) return tenantToken.value;
    const res = await fetch(`${apiBase}/open-apis/auth/v3/tenant_access_token/internal`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ app_id: options.appId, app_secret: options.appSecret }),
    });
    const body = await res.json() as {
      code?: number;
      msg?: string;
      tenant_access_token?: string;
      expire?: number;
    };
    if (body.code !== 0 || !body.tenant_access_token) throw new Error(`feishu token: ${body.msg}`);
    tenantToken = {
      value: body.tenant_access_token,
      expires: Date.now() + ((body.expire ?? 7200) - 300) * 1000,
    };
    return tenantToken.value;
  }

  return {
    name: "feishu",
    receive(request, rawBody, client = UNKNOWN_CLIENT): Promise<WebhookResult> {
      const timestamp = request.headers.get("x-lark-request-timestamp");
      const nonce = request.headers.get("x-lark-request-nonce");
      const signature = request.headers.get("x-lark-signature");
      const signed = timestamp !== null || nonce !== null || signature !== null;
      // Every way an unsigned request fails counts the same, whichever step refused it.
      const unauthorized = (reason: string) => {
        if (!signed) unsignedFailures.fail(client);
        return Promise.resolve<WebhookResult>({ kind: "unauthorized", reason });
      };
      if (signed) {
        // Before any decryption: an unauthenticated body never reaches the cipher.
        const expected = feishuSignature(timestamp ?? "", nonce ?? "", options.encryptKey, rawBody);
        if (!signature || !constantTimeEqual(signature, expected)) {
          return unauthorized("X-Lark-Signature does not match");
        }
      } else if (unsignedFailures.overallSpent) {
        // Refused before anything is parsed, and spending no budget: the flood that spent it
        // gets no more work out of it, and its audit records coalesce as every refusal's.
        return Promise.resolve({
          kind: "unauthorized",
          reason: FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON,
        });
      } else if (!unsignedFailures.allows(client)) {
        return Promise.resolve({ kind: "unauthorized", reason: FEISHU_CLIENT_OVER_BUDGET_REASON });
      }
      const outer = readPayload(FeishuEnvelope, rawBody);
      if (!outer) return unauthorized("body is not an encrypted event");
      let decrypted: string;
      try {
        decrypted = feishuDecrypt(options.encryptKey, outer.encrypt);
      } catch {
        return unauthorized("payload does not decrypt");
      }
      const event = readPayload(FeishuEvent, decrypted);
      if (!signed && event?.type !== "url_verification") {
        return unauthorized("unsigned request that is not a URL check");
      }
      if (event?.type !== "url_verification") {
        // The signature covers the timestamp: a captured push is refused once it is stale.
        const stale = freshness({ text: timestamp, unit: "s", now: now(), windowMs });
        if (stale) return unauthorized(stale);
        const created = event?.header?.create_time;
        const old = created === undefined ? undefined : freshness({
          text: String(created),
          unit: "ms",
          now: now(),
          windowMs: Math.max(FEISHU_EVENT_MAX_AGE_MS, windowMs),
          aheadMs: windowMs,
          what: "event create_time",
        });
        if (old) return unauthorized(old);
      }
      // Signed, but not an event of the shape the adapter reads.
      if (!event) return Promise.resolve({ kind: "ignored" });
      const presented = event.header?.token ?? event.token ?? "";
      if (!constantTimeEqual(presented, options.verificationToken)) {
        return unauthorized("verification token does not match");
      }
      if (event.type === "url_verification") {
        return Promise.resolve({
          kind: "reply",
          response: Response.json({ challenge: event.challenge }),
        });
      }
      const m = event.event?.message;
      const userId = event.event?.sender?.sender_id?.open_id;
      if (
        event.header?.event_type !== "im.message.receive_v1" || m?.message_type !== "text" ||
        !m.chat_id || !userId || event.event?.sender?.sender_type === "app"
      ) {
        return Promise.resolve({ kind: "ignored" });
      }
      const content = readPayload(FeishuTextContent, m.content ?? "");
      const text = content && feishuMessageText(content.text, m.mentions);
      if (!text) return Promise.resolve({ kind: "ignored" });
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "feishu",
          userId,
          chatId: m.chat_id,
          text,
          session: sessionKey("feishu", userId, m.chat_id),
          messageId: m.message_id,
          threadId: m.thread_id,
          deliveryId: event.header?.event_id,
          signatureOnce: signature ?? undefined,
        },
      });
    },
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      // A request body holds at most 150 KB: 30,000 characters stay within it in any script.
      await sendParts(text, { size: 30_000 }, progress, async (part) => {
        const content = JSON.stringify({ text: part });
        // A reply to the message keeps the answer next to the question (in its thread when it
        // came in one); a message the platform gave no id for goes to the chat.
        const [url, body] = message.messageId
          ? [
            `${apiBase}/open-apis/im/v1/messages/${encodeURIComponent(message.messageId)}/reply`,
            { msg_type: "text", content, reply_in_thread: message.threadId !== undefined },
          ]
          : [
            `${apiBase}/open-apis/im/v1/messages?receive_id_type=chat_id`,
            { receive_id: message.chatId, msg_type: "text", content },
          ];
        const res = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json; charset=utf-8",
            authorization: `Bearer ${await token()}`,
          },
          body: JSON.stringify(body),
        });
        const answer = await res.json() as { code?: number; msg?: string };
        if (answer.code !== 0) {
          // A token invalid before its time is fetched anew by the next try.
          if (answer.code === FEISHU_TOKEN_INVALID) tenantToken = undefined;
          throw sendRefused(
            `feishu im/v1/messages: ${answer.msg}`,
            answer.code === FEISHU_RATE_LIMITED
              ? secondsToMs(res.headers.get("x-ogw-ratelimit-reset"))
              : undefined,
          );
        }
      });
    },
  };
}
