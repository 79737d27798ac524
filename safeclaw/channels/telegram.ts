/**
 * Telegram: the Bot API delivers updates to a webhook set with a `secret_token`, which arrives in
 * the `X-Telegram-Bot-Api-Secret-Token` header; replies go to `sendMessage`.
 */
import { sendParts } from "./message_parts.ts";
import { secondsToMs, sendRefused } from "./rate_limit.ts";
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

/** Telegram settings. */
export interface TelegramOptions {
  /** The bot token (`123456:ABC...`). */
  botToken: string;
  /** The `secret_token` given to `setWebhook`. */
  secretToken: string;
  /** The Bot API base URL (tests point it at a local fake). */
  apiBase?: string;
}

/** The fields of an Update the adapter reads, with the Bot API's types. */
const TelegramUpdate = z.object({
  update_id: z.number().int().optional(),
  message: z.object({
    message_id: z.number().int(),
    from: z.object({ id: z.number().int(), is_bot: z.boolean().optional() }).optional(),
    chat: z.object({ id: z.number().int() }),
    text: z.string().optional(),
  }).optional(),
});

/**
 * The Telegram adapter.
 *
 * @example
 * ```ts
 * import { telegramChannel } from "./telegram.ts";
 * const telegram = telegramChannel({ botToken: "1:abc", secretToken: "s3cret-token" });
 * console.log(telegram.name); // "telegram"
 * ```
 */
export function telegramChannel(options: TelegramOptions): ChannelAdapter {
  const apiBase = (options.apiBase ?? "https://api.telegram.org").replace(/\/$/, "");
  return {
    name: "telegram",
    receive(request, rawBody): Promise<WebhookResult> {
      const presented = request.headers.get("x-telegram-bot-api-secret-token");
      if (!presented || !constantTimeEqual(presented, options.secretToken)) {
        return Promise.resolve({ kind: "unauthorized", reason: "missing or wrong secret token" });
      }
      const update = readPayload(TelegramUpdate, rawBody);
      const m = update?.message;
      if (!update || !m || typeof m.text !== "string" || !m.from || m.from.is_bot) {
        return Promise.resolve({ kind: "ignored" });
      }
      const userId = String(m.from.id);
      const chatId = String(m.chat.id);
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "telegram",
          userId,
          chatId,
          text: m.text,
          session: sessionKey("telegram", userId, chatId),
          messageId: String(m.message_id),
          deliveryId: update.update_id === undefined ? undefined : String(update.update_id),
        },
      });
    },
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      // Telegram takes 1 to 4,096 characters a message; the first part answers the message.
      await sendParts(text, { size: 4096 }, progress, async (part, i) => {
        const res = await fetch(`${apiBase}/bot${options.botToken}/sendMessage`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            chat_id: Number(message.chatId),
            text: part,
            // Telegram fetches a link's preview itself, from its servers: a link the model
            // wrote would be visited (and what it carries sent) with no click.
            link_preview_options: { is_disabled: true },
            reply_parameters: message.messageId && i === 0
              ? { message_id: Number(message.messageId) }
              : undefined,
          }),
        });
        const body = await res.json() as {
          ok?: boolean;
          description?: string;
          parameters?: { retry_after?: unknown };
        };
        if (!res.ok || !body.ok) {
          // A 429 (flood control) says how many seconds to wait in `parameters.retry_after`.
          throw sendRefused(
            `telegram sendMessage: ${body.description ?? res.status}`,
            secondsToMs(body.parameters?.retry_after),
          );
        }
      });
    },
  };
}
