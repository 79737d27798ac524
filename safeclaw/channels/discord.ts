/**
 * Discord: the Interactions endpoint signs each request with Ed25519: the app's public key
 * verifies `X-Signature-Ed25519` over `X-Signature-Timestamp` followed by the raw body, and a
 * timestamp more than five minutes from now is a replay (PINGs included: Discord sends each one
 * when it is signed). Every verified interaction gets an interaction response, as Discord
 * requires within three seconds (anything else shows the user "This interaction failed"): a PING
 * a PONG; a slash command with text, subcommands' included, is acknowledged at once (deferred)
 * and answered with a follow-up message on the interaction's webhook, whose token is kept for
 * that, one per interaction, for the 15 minutes Discord lets it be used; a command without text
 * and the interactions the bot does not take (buttons, menus, modals) an ephemeral notice;
 * autocomplete an empty list of choices.
 */
import { sendParts } from "./message_parts.ts";
import { secondsToMs, sendRefused } from "./rate_limit.ts";
import {
  freshness,
  replayWindow,
  type ReplayWindowOptions,
  ReplyHandles,
} from "./replay_window.ts";
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
export interface DiscordOptions extends ReplayWindowOptions {
  /** The application's public key, hex. */
  publicKey: string;
  applicationId: string;
  /** The API base URL (tests point it at a local fake). */
  apiBase?: string;
  /** The most interaction tokens kept for replies at once (10,000 unless given). */
  maxPendingReplies?: number;
}

/** How long an interaction token can be used for follow-ups, as Discord documents. */
export const DISCORD_TOKEN_TTL_MS = 15 * 60_000;

/**
 * The statuses of a follow-up that no retry can change: the token invalid (401), the bot not
 * allowed there (403), or the webhook unknown, as after the token's 15 minutes (404).
 */
const TOKEN_GONE: readonly number[] = [401, 403, 404];

/** The Discord adapter: a channel adapter that also says how many replies it holds a token for. */
export interface DiscordAdapter extends ChannelAdapter {
  /** How many interaction tokens are kept for replies not yet sent. */
  readonly pendingReplies: number;
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
    /** Read by {@linkcode commandText}: subcommands nest their options. */
    options: z.array(z.unknown()).optional(),
  }).optional(),
});

/** Discord's interaction types. */
const PING = 1;
const APPLICATION_COMMAND = 2;
const APPLICATION_COMMAND_AUTOCOMPLETE = 4;

/** Discord's interaction response types. */
const PONG = 1;
const CHANNEL_MESSAGE_WITH_SOURCE = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5;
const APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8;

/** The message flag that shows a message to the user who acted only. */
const EPHEMERAL = 64;

/** Option types that hold others: a subcommand (1) and a subcommand group (2). */
const NESTING_OPTION_TYPES: readonly unknown[] = [1, 2];

/** A command option as the adapter reads it; anything else in the array is passed over. */
const CommandOption = z.object({
  type: z.number().optional(),
  value: z.unknown().optional(),
  options: z.array(z.unknown()).optional(),
});

/**
 * The text of a command: its string options' values, in order, one a line, the options of its
 * subcommand (and of a group's subcommand) included. Discord nests two levels at most, so the
 * walk stops there whatever a body carries.
 */
export function commandText(options: readonly unknown[] | undefined, depth = 0): string {
  const parts: string[] = [];
  for (const raw of options ?? []) {
    const option = CommandOption.safeParse(raw);
    if (!option.success) continue;
    if (NESTING_OPTION_TYPES.includes(option.data.type)) {
      if (depth < 2) parts.push(commandText(option.data.options, depth + 1));
    } else if (typeof option.data.value === "string") {
      parts.push(option.data.value);
    }
  }
  return parts.filter((part) => part.trim()).join("\n");
}

/** An interaction response that shows `content` to the user who acted, and to no one else. */
export function discordEphemeral(content: string): Response {
  return Response.json({
    type: CHANNEL_MESSAGE_WITH_SOURCE,
    data: { content, flags: EPHEMERAL },
  });
}

/** What a user is told of a command that carries no text to answer. */
export const DISCORD_NO_TEXT =
  "This command needs some text: give the question in one of its options.";

/** What a user is told of a button, menu or form, which the bot does not take. */
export const DISCORD_UNSUPPORTED =
  "This bot answers slash commands only; buttons, menus and forms are not supported.";

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
export function discordChannel(options: DiscordOptions): DiscordAdapter {
  const apiBase = (options.apiBase ?? "https://discord.com/api/v10").replace(/\/$/, "");
  let key: Promise<CryptoKey | undefined> | undefined;
  const publicKey = () =>
    key ??= (async () => {
      const raw = hexBytes(options.publicKey);
      if (!raw || raw.length !== 32) return undefined;
      return await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    })();
  const { now, windowMs } = replayWindow(options);
  const tokens = new ReplyHandles<string>({ maxEntries: options.maxPendingReplies, now });
  return {
    name: "discord",
    get pendingReplies() {
      return tokens.size;
    },
    async receive(request, rawBody): Promise<WebhookResult> {
      const signature = hexBytes(request.headers.get("x-signature-ed25519") ?? "");
      const timestamp = request.headers.get("x-signature-timestamp") ?? "";
      const k = await publicKey();
      if (!k || !signature || signature.length !== 64 || !timestamp) {
        return { kind: "unauthorized", reason: "missing signature headers" };
      }
      const stale = freshness({ text: timestamp, unit: "s", now: now(), windowMs });
      if (stale) return { kind: "unauthorized", reason: stale };
      const stamp = new TextEncoder().encode(timestamp);
      const signed = new Uint8Array(stamp.length + rawBody.length);
      signed.set(stamp);
      signed.set(rawBody, stamp.length);
      const valid = await crypto.subtle.verify({ name: "Ed25519" }, k, signature, signed);
      if (!valid) return { kind: "unauthorized", reason: "signature does not verify" };
      const interaction = readPayload(Interaction, rawBody);
      const reply = (response: Response): WebhookResult => ({ kind: "reply", response });
      if (interaction?.type === PING) return reply(Response.json({ type: PONG }));
      if (interaction?.type === APPLICATION_COMMAND_AUTOCOMPLETE) {
        return reply(
          Response.json({ type: APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, data: { choices: [] } }),
        );
      }
      if (interaction?.type !== APPLICATION_COMMAND) {
        return reply(discordEphemeral(DISCORD_UNSUPPORTED));
      }
      const text = commandText(interaction.data?.options);
      const userId = interaction.member?.user?.id ?? interaction.user?.id;
      if (!text || !userId || !interaction.channel_id) {
        return reply(discordEphemeral(DISCORD_NO_TEXT));
      }
      // One token per interaction: its deliveries after the first (which the hub acknowledges
      // without answering) keep the first's. Only one without an id gets an id of its own.
      const messageId = interaction.id ?? crypto.randomUUID();
      if (interaction.token) tokens.add(messageId, interaction.token, now() + DISCORD_TOKEN_TTL_MS);
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
          signatureOnce: request.headers.get("x-signature-ed25519") ?? undefined,
        },
      };
    },
    acknowledge: DISCORD_DEFERRED,
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      const token = tokens.get(message.messageId ?? "");
      if (!token) throw new Error("discord: no interaction token for this message");
      // A follow-up holds at most 2,000 characters; the token stays until all are sent, so a
      // retry of a failed send can use it, unless Discord says it is no longer valid. One whose
      // reply never gets through is dropped when its 15 minutes are up.
      await sendParts(text, { size: 2000 }, progress, async (part) => {
        const res = await fetch(`${apiBase}/webhooks/${options.applicationId}/${token}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ content: part }),
        });
        if (!res.ok) {
          if (TOKEN_GONE.includes(res.status)) tokens.delete(message.messageId!);
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
export const DISCORD_DEFERRED: () => Response = () =>
  Response.json({ type: DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE });
