/**
 * Slack: the Events API signs each request with the app's signing secret: `v0=` + HMAC-SHA256
 * of `v0:<X-Slack-Request-Timestamp>:<raw body>`, in `X-Slack-Signature`; a timestamp more than
 * five minutes from now is a replay. `url_verification` is answered with its challenge; replies go
 * to `chat.postMessage` with the bot token.
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

/** The `X-Slack-Signature` of `body` sent at `timestamp`. */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return "v0=" + createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex");
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
      const body = new TextDecoder().decode(rawBody);
      if (!constantTimeEqual(signature, slackSignature(options.signingSecret, timestamp, body))) {
        return unauthorized("signature does not match");
      }
      const payload = readPayload(SlackPayload, body);
      if (!payload) return Promise.resolve({ kind: "ignored" });
      if (payload.type === "url_verification" && typeof payload.challenge === "string") {
        return Promise.resolve({
          kind: "reply",
          response: Response.json({ challenge: payload.challenge }),
        });
      }
      const e = payload.event;
      if (
        payload.type !== "event_callback" || !e || e.type !== "message" || e.subtype || e.bot_id ||
        typeof e.text !== "string" || !e.user || !e.channel
      ) {
        return Promise.resolve({ kind: "ignored" });
      }
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "slack",
          userId: e.user,
          chatId: e.channel,
          text: e.text,
          session: sessionKey("slack", e.user, e.channel),
          messageId: e.thread_ts ?? e.ts,
          deliveryId: payload.event_id,
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
