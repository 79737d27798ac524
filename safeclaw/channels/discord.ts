/**
 * Discord: the Interactions endpoint signs each request with Ed25519: the app's public key
 * verifies `X-Signature-Ed25519` over `X-Signature-Timestamp` followed by the raw body. A PING is
 * answered with a PONG; a slash command is acknowledged at once (deferred) and answered with a
 * follow-up message on the interaction's webhook.
 */
import { sendParts } from "./message_parts.ts";
import { secondsToMs, sendRefused } from "./rate_limit.ts";
import { z } from "zod";
import {
  type ChannelAdapter,
  type ChannelMessage,
  readPayload,
  type ReplyProgress,
  sessionKey,
  type WebhookResult,
} from "./types.ts";

/** Discord settings. */
export interface DiscordOptions {
  /** The application's public key, hex. */
  publicKey: string;
  applicationId: string;
  /** The API base URL (tests point it at a local fake). */
  apiBase?: string;
}

const DiscordUser = z.object({ id: z.string().optional() });

/** The fields of an Interaction the adapter reads, with Discord's types. */
const Interaction = z.object({
  id: z.string().optional(),
  type: z.number().int().optional(),
  token: z.string().optional(),
  channel_id: z.string().optional(),
  member: z.object({ user: DiscordUser.optional() }).optional(),
  user: DiscordUser.optional(),
  data: z.object({
    name: z.string().optional(),
    options: z.array(z.object({ name: z.string().optional(), value: z.unknown() })).optional(),
  }).optional(),
});

/** The body of a 429: `retry_after` in seconds, finer than the `Retry-After` header's. */
const RateLimitBody = z.object({ retry_after: z.number() });

function hexBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return undefined;
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/**
 * The Discord adapter.
 *
 * @example
 * ```ts
 * import { discordChannel } from "./discord.ts";
 * const discord = discordChannel({ publicKey: "00".repeat(32), applicationId: "1" });
 * console.log(discord.name); // "discord"
 * ```
 */
export function discordChannel(options: DiscordOptions): ChannelAdapter {
  const apiBase = (options.apiBase ?? "https://discord.com/api/v10").replace(/\/$/, "");
  let key: Promise<CryptoKey | undefined> | undefined;
  const publicKey = () =>
    key ??= (async () => {
      const raw = hexBytes(options.publicKey);
      if (!raw || raw.length !== 32) return undefined;
      return await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    })();
  const tokens = new Map<string, string>();
  return {
    name: "discord",
    async receive(request, rawBody): Promise<WebhookResult> {
      const signature = hexBytes(request.headers.get("x-signature-ed25519") ?? "");
      const timestamp = request.headers.get("x-signature-timestamp") ?? "";
      const k = await publicKey();
      if (!k || !signature || signature.length !== 64 || !timestamp) {
        return { kind: "unauthorized", reason: "missing signature headers" };
      }
      const stamp = new TextEncoder().encode(timestamp);
      const signed = new Uint8Array(stamp.length + rawBody.length);
      signed.set(stamp);
      signed.set(rawBody, stamp.length);
      const valid = await crypto.subtle.verify({ name: "Ed25519" }, k, signature, signed);
      if (!valid) return { kind: "unauthorized", reason: "signature does not verify" };
      const interaction = readPayload(Interaction, rawBody);
      if (!interaction) return { kind: "ignored" };
      if (interaction.type === 1) return { kind: "reply", response: Response.json({ type: 1 }) };
      const text = interaction.data?.options?.find((o) => typeof o.value === "string")?.value;
      const userId = interaction.member?.user?.id ?? interaction.user?.id;
      if (
        interaction.type !== 2 || typeof text !== "string" || !userId || !interaction.channel_id
      ) {
        return { kind: "ignored" };
      }
      const messageId = crypto.randomUUID();
      tokens.set(messageId, interaction.token ?? "");
      return {
        kind: "message",
        message: {
          channel: "discord",
          userId,
          chatId: interaction.channel_id,
          text,
          session: sessionKey("discord", userId, interaction.channel_id),
          messageId,
          deliveryId: interaction.id,
        },
      };
    },
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      const token = tokens.get(message.messageId ?? "");
      if (!token) throw new Error("discord: no interaction token for this message");
      // A follow-up holds at most 2,000 characters; the token stays until all are sent, so a
      // retry of a failed send can use it.
      await sendParts(text, { size: 2000 }, progress, async (part) => {
        const res = await fetch(`${apiBase}/webhooks/${options.applicationId}/${token}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ content: part }),
        });
        if (!res.ok) {
          const detail = await res.text();
          const retryAfterMs = res.status === 429
            ? secondsToMs(readPayload(RateLimitBody, detail)?.retry_after) ??
              secondsToMs(res.headers.get("retry-after"))
            : undefined;
          throw sendRefused(`discord follow-up: ${res.status} ${detail}`, retryAfterMs);
        }
        await res.body?.cancel();
      });
      tokens.delete(message.messageId!);
    },
  };
}

/** Discord's answer to a command it will get a follow-up for: "thinking...". */
export const DISCORD_DEFERRED: () => Response = () => Response.json({ type: 5 });
