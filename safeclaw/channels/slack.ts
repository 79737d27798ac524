/**
 * Slack: the Events API signs each request with the app's signing secret: `v0=` + HMAC-SHA256
 * of `v0:<X-Slack-Request-Timestamp>:<raw body>`, in `X-Slack-Signature`, over the body's bytes
 * as received (decoded first, a BOM was dropped and bad bytes replaced, so a body that differed
 * verified); a timestamp more than five minutes from now is a replay. `url_verification` is
 * answered with its challenge. A user's message, a file shared with a comment and an
 * `app_mention` are answered (one mention arrives as both a message and an `app_mention`, so a
 * message is handled once by its channel and `ts`), with the bot's own mention taken out of the
 * text; replies go to `chat.postMessage` with the bot token.
 */
import { sendParts } from "./message_parts.ts";
import { secondsToMs, sendRefused } from "./rate_limit.ts";
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
  withoutSpan,
} from "./types.ts";

/** Slack settings. */
export interface SlackOptions {
  signingSecret: string;
  /** The bot token (`xoxb-...`) for `chat.postMessage`. */
  botToken: string;
  /** The Web API base URL (tests point it at a local fake). */
  apiBase?: string;
  /** The clock, in seconds (tests pin it). */
  now?: () => number;
}

/** How far a request's timestamp may be from now, as Slack documents. */
export const SLACK_REPLAY_WINDOW_SECONDS = 300;

/** The fields of an Events API payload the adapter reads, with Slack's types. */
const SlackPayload = z.object({
  type: z.string().optional(),
  challenge: z.string().optional(),
  event_id: z.string().optional(),
  /** Whom the event was delivered for: the bot's user id among them. */
  authorizations: z.array(z.object({ user_id: z.string().optional() })).optional(),
  event: z.object({
    type: z.string().optional(),
    subtype: z.string().optional(),
    bot_id: z.string().optional(),
    user: z.string().optional(),
    text: z.string().optional(),
    channel: z.string().optional(),
    ts: z.string().optional(),
    thread_ts: z.string().optional(),
  }).optional(),
});

/** The `X-Slack-Signature` of `body` (its bytes; a string as UTF-8) sent at `timestamp`. */
export function slackSignature(
  secret: string,
  timestamp: string,
  body: string | Uint8Array,
): string {
  return "v0=" +
    createHmac("sha256", secret).update(`v0:${timestamp}:`).update(body).digest("hex");
}

/** Message subtypes that are a user writing: a file shared with a comment, a thread reply sent to the channel too. */
const USER_SUBTYPES: readonly (string | undefined)[] = [
  undefined,
  "file_share",
  "thread_broadcast",
];

/**
 * A message's text without the mentions of `botIds` (`<@U123>`, `<@U123|name>`); in an
 * `app_mention` the mention it opens with is the bot's too.
 */
export function slackMessageText(
  text: string,
  botIds: readonly string[],
  mentioned: boolean,
): string {
  const mentions = [...text.matchAll(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g)].filter((m) =>
    botIds.includes(m[1]) || (mentioned && m.index === text.search(/\S/))
  );
  let rest = text;
  for (const m of mentions.reverse()) rest = withoutSpan(rest, m.index, m.index + m[0].length);
  return rest.trim() ? rest : "";
}

/**
 * The Slack adapter.
 *
 * @example
 * ```ts
 * import { slackChannel } from "./slack.ts";
 * const slack = slackChannel({ signingSecret: "8f742231b10e8888abcd99yyyzzz85a5", botToken: "xoxb-1" });
 * console.log(slack.name); // "slack"
 * ```
 */
export function slackChannel(options: SlackOptions): ChannelAdapter {
  const apiBase = (options.apiBase ?? "https://slack.com/api").replace(/\/$/, "");
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return {
    name: "slack",
    receive(request, rawBody): Promise<WebhookResult> {
      const timestamp = request.headers.get("x-slack-request-timestamp") ?? "";
      const signature = request.headers.get("x-slack-signature") ?? "";
      const unauthorized = (reason: string) =>
        Promise.resolve<WebhookResult>({ kind: "unauthorized", reason });
      if (!/^\d+$/.test(timestamp) || !signature) return unauthorized("missing signature headers");
      if (Math.abs(now() - Number(timestamp)) > SLACK_REPLAY_WINDOW_SECONDS) {
        return unauthorized("timestamp outside the five-minute window (replay)");
      }
      if (
        !constantTimeEqual(signature, slackSignature(options.signingSecret, timestamp, rawBody))
      ) {
        return unauthorized("signature does not match");
      }
      const payload = readPayload(SlackPayload, rawBody);
      if (!payload) return Promise.resolve({ kind: "ignored" });
      if (payload.type === "url_verification" && typeof payload.challenge === "string") {
        return Promise.resolve({
          kind: "reply",
          response: Response.json({ challenge: payload.challenge }),
        });
      }
      const e = payload.event;
      const mentioned = e?.type === "app_mention";
      if (
        payload.type !== "event_callback" || !e || (e.type !== "message" && !mentioned) ||
        !USER_SUBTYPES.includes(e.subtype) || e.bot_id || typeof e.text !== "string" ||
        !e.user || !e.channel
      ) {
        return Promise.resolve({ kind: "ignored" });
      }
      const botIds = (payload.authorizations ?? []).flatMap((a) => a.user_id ? [a.user_id] : []);
      const text = slackMessageText(e.text, botIds, mentioned);
      if (!text) return Promise.resolve({ kind: "ignored" });
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "slack",
          userId: e.user,
          chatId: e.channel,
          text,
          session: sessionKey("slack", e.user, e.channel),
          messageId: e.thread_ts ?? e.ts,
          deliveryId: e.ts ? `${e.channel}/${e.ts}` : payload.event_id,
          signatureOnce: signature,
        },
      });
    },
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      // Slack cuts a message's text after 40,000 characters.
      await sendParts(text, { size: 40_000 }, progress, async (part) => {
        const res = await fetch(`${apiBase}/chat.postMessage`, {
          method: "POST",
          headers: {
            "content-type": "application/json; charset=utf-8",
            authorization: `Bearer ${options.botToken}`,
          },
          body: JSON.stringify({
            channel: message.chatId,
            text: part,
            thread_ts: message.messageId,
            // As Telegram's: no preview fetched of a link the model wrote.
            unfurl_links: false,
            unfurl_media: false,
          }),
        });
        // Rate-limited: HTTP 429, the seconds to wait in `Retry-After`.
        if (res.status === 429) {
          await res.body?.cancel();
          throw sendRefused(
            "slack chat.postMessage: ratelimited",
            secondsToMs(res.headers.get("retry-after")),
          );
        }
        const body = await res.json() as { ok?: boolean; error?: string };
        if (!res.ok || !body.ok) {
          throw new Error(`slack chat.postMessage: ${body.error ?? res.status}`);
        }
      });
    },
  };
}
