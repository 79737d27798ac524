/**
 * Telegram: the Bot API delivers updates to a webhook set with a `secret_token`, which arrives in
 * the `X-Telegram-Bot-Api-Secret-Token` header; replies go to `sendMessage`. A message's text, or
 * a photo's or file's caption, is answered, with the mention that addresses the bot taken out.
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
  withoutSpan,
} from "./types.ts";

/** Telegram settings. */
export interface TelegramOptions {
  /** The bot token (`123456:ABC...`). */
  botToken: string;
  /** The `secret_token` given to `setWebhook`. */
  secretToken: string;
  /** The Bot API base URL (tests point it at a local fake). */
  apiBase?: string;
  /**
   * The bot's username, without `@`: its mentions are taken out of the text. Unless given, a
   * mention that opens the message and ends in `bot` (every bot's username does) is taken out.
   */
  botUsername?: string;
}

/** A `mention` entity: `@username` at UTF-16 `offset`, `length` units long. */
const Entity = z.object({ type: z.string(), offset: z.number().int(), length: z.number().int() });

/** The fields of an Update the adapter reads, with the Bot API's types. */
const TelegramUpdate = z.object({
  update_id: z.number().int().optional(),
  message: z.object({
    message_id: z.number().int(),
    from: z.object({ id: z.number().int(), is_bot: z.boolean().optional() }).optional(),
    chat: z.object({ id: z.number().int() }),
    text: z.string().optional(),
    entities: z.array(Entity).optional(),
    caption: z.string().optional(),
    caption_entities: z.array(Entity).optional(),
  }).optional(),
});

/**
 * `text` without the mentions of the bot: those of `botUsername` where it is known, else one
 * `@…bot` that opens the text.
 */
export function telegramMessageText(
  text: string,
  entities: readonly z.infer<typeof Entity>[] = [],
  botUsername?: string,
): string {
  const own = botUsername?.replace(/^@/, "").toLowerCase();
  const mentions = entities.filter((e) => e.type === "mention").sort((a, b) => b.offset - a.offset);
  let rest = text;
  for (const mention of mentions) {
    const name = text.slice(mention.offset + 1, mention.offset + mention.length).toLowerCase();
    const addressed = own === undefined
      ? mention.offset === 0 && name.endsWith("bot")
      : name === own;
    if (addressed) rest = withoutSpan(rest, mention.offset, mention.offset + mention.length);
  }
  return rest.trim() ? rest : "";
}

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
      if (!update || !m || !m.from || m.from.is_bot) return Promise.resolve({ kind: "ignored" });
      const text = m.text !== undefined
        ? telegramMessageText(m.text, m.entities, options.botUsername)
        : telegramMessageText(m.caption ?? "", m.caption_entities, options.botUsername);
      if (!text) return Promise.resolve({ kind: "ignored" });
      const userId = String(m.from.id);
      const chatId = String(m.chat.id);
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "telegram",
          userId,
          chatId,
          text,
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
