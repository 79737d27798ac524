/**
 * WeCom (企业微信): callbacks carry `msg_signature`, `timestamp` and `nonce` in the query and
 * an encrypted XML body; the URL check is a GET whose `echostr` must be decrypted and echoed.
 * `msg_signature` covers the timestamp, and one more than five minutes from now is a replay, for
 * the URL check too (WeCom signs each when it sends it). The signature is checked before
 * anything is decrypted, and every refusal looks the same to the caller. A callback is
 * acknowledged with 200 and an empty body, as WeCom documents for "no passive reply" (its body
 * is otherwise read as an encrypted XML reply); replies go to `message/send` with an access
 * token from `gettoken`.
 */
import { sendParts, utf8Bytes } from "./message_parts.ts";
import { RATE_WINDOW_MS, sendRefused } from "./rate_limit.ts";
import { freshness, replayWindow, type ReplayWindowOptions } from "./replay_window.ts";
import {
  type ChannelAdapter,
  type ChannelMessage,
  constantTimeEqual,
  type ReplyProgress,
  sessionKey,
  type WebhookResult,
} from "./types.ts";
import { wecomDecrypt, wecomSignature } from "./wecom_crypto.ts";

/** WeCom settings. */
export interface WecomOptions extends ReplayWindowOptions {
  corpId: string;
  corpSecret: string;
  agentId: number;
  /** The callback Token. */
  token: string;
  /** The callback EncodingAESKey (43 characters). */
  encodingAesKey: string;
  apiBase?: string;
}

const CDATA_OPEN = "<![CDATA[";

/**
 * The text of the first `<name>` element that closes: `<name><![CDATA[…]]></name>` (up to the
 * first `]]></name>`) or `<name>text</name>` (text without `<`). The same reading as
 * `<name>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))</name>`, in linear time: it runs on the body
 * before the signature is checked, and that regex rescanned the rest of the body from every
 * unclosed `<name><![CDATA[` (2 MB of them held the event loop for half a minute).
 */
function xmlField(xml: string, name: string): string | undefined {
  const open = `<${name}>`;
  const close = `</${name}>`;
  const cdataClose = `]]>${close}`;
  // Once no `]]></name>` follows a CDATA opener, none follows a later one either.
  let cdataClosed = true;
  for (let at = xml.indexOf(open); at !== -1; at = xml.indexOf(open, at + 1)) {
    const start = at + open.length;
    if (xml.startsWith(CDATA_OPEN, start)) {
      if (!cdataClosed) continue;
      const end = xml.indexOf(cdataClose, start + CDATA_OPEN.length);
      if (end !== -1) return xml.slice(start + CDATA_OPEN.length, end);
      cdataClosed = false;
      continue;
    }
    // Plain text runs to the next `<`, which must open `</name>`; that scan stops short of the
    // next `<name>`, so the scans do not overlap.
    const lt = xml.indexOf("<", start);
    if (lt !== -1 && xml.startsWith(close, lt)) return xml.slice(start, lt);
  }
  return undefined;
}

/** `errcode`s of a call whose access token is invalid (40014) or expired (42001). */
export const WECOM_TOKEN_REFUSED: readonly number[] = [40014, 42001];

/**
 * The `errcode` of a call over the API's frequency limits (45009), which come per minute and
 * per hour and say no time to wait: the next try comes after a minute.
 */
export const WECOM_RATE_LIMITED = 45009;

/**
 * The WeCom adapter.
 *
 * @example
 * ```ts
 * import { wecomChannel } from "./wecom.ts";
 * const wecom = wecomChannel({
 *   corpId: "ww1", corpSecret: "s", agentId: 1, token: "t",
 *   encodingAesKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 * });
 * console.log(wecom.name); // "wecom"
 * ```
 */
export function wecomChannel(options: WecomOptions): ChannelAdapter {
  const apiBase = (options.apiBase ?? "https://qyapi.weixin.qq.com").replace(/\/$/, "");
  let accessToken: { value: string; expires: number } | undefined;
  const { now, windowMs } = replayWindow(options);

  function open(query: URLSearchParams, encrypted: string): string | { reason: string } {
    const signature = query.get("msg_signature") ?? "";
    const timestamp = query.get("timestamp") ?? "";
    const nonce = query.get("nonce") ?? "";
    if (!signature || !timestamp || !nonce) return { reason: "missing signature parameters" };
    const stale = freshness({ text: timestamp, unit: "s", now: now(), windowMs });
    if (stale) return { reason: stale };
    const expected = wecomSignature(options.token, timestamp, nonce, encrypted);
    if (!constantTimeEqual(signature, expected)) return { reason: "msg_signature does not match" };
    try {
      const { message, receiverId } = wecomDecrypt(options.encodingAesKey, encrypted);
      if (receiverId !== options.corpId) return { reason: "sealed for another corp" };
      return message;
    } catch {
      return { reason: "payload does not decrypt" };
    }
  }

  async function token(): Promise<string> {
    if (accessToken && accessToken.expires > Date.now()) return accessToken.value;
    const url = `${apiBase}/cgi-bin/gettoken?corpid=${
      encodeURIComponent(options.corpId)
    }&corpsecret=${encodeURIComponent(options.corpSecret)}`;
    const body = await (await fetch(url)).json() as {
      errcode?: number;
      errmsg?: string;
      access_token?: string;
      expires_in?: number;
    };
    if (body.errcode || !body.access_token) throw new Error(`wecom gettoken: ${body.errmsg}`);
    accessToken = {
      value: body.access_token,
      expires: Date.now() + ((body.expires_in ?? 7200) - 300) * 1000,
    };
    return accessToken.value;
  }

  return {
    name: "wecom",
    async receive(request, rawBody): Promise<WebhookResult> {
      const query = new URL(request.url).searchParams;
      if (request.method === "GET") {
        const opened = open(query, query.get("echostr") ?? "");
        if (typeof opened !== "string") return { kind: "unauthorized", reason: opened.reason };
        return { kind: "reply", response: new Response(opened) };
      }
      const encrypted = xmlField(new TextDecoder().decode(rawBody), "Encrypt");
      if (!encrypted) return { kind: "unauthorized", reason: "no Encrypt element" };
      const opened = open(query, encrypted);
      if (typeof opened !== "string") return { kind: "unauthorized", reason: opened.reason };
      const userId = xmlField(opened, "FromUserName");
      const text = xmlField(opened, "Content");
      if (xmlField(opened, "MsgType") !== "text" || !userId || text === undefined) {
        return { kind: "ignored" };
      }
      const chatId = xmlField(opened, "AgentID") ?? String(options.agentId);
      await Promise.resolve();
      return {
        kind: "message",
        message: {
          channel: "wecom",
          userId,
          chatId,
          text,
          session: sessionKey("wecom", userId, chatId),
          messageId: xmlField(opened, "MsgId"),
          deliveryId: xmlField(opened, "MsgId"),
          // It covers the `Encrypt` element only: the rest of the XML is not signed.
          signatureOnce: query.get("msg_signature") ?? undefined,
        },
      };
    },
    acknowledge: () => new Response(""),
    async send(message: ChannelMessage, text: string, progress: ReplyProgress) {
      // A text message holds at most 2,048 bytes.
      await sendParts(text, { size: 2048, measure: utf8Bytes }, progress, async (part) => {
        const res = await fetch(`${apiBase}/cgi-bin/message/send?access_token=${await token()}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            touser: message.userId,
            msgtype: "text",
            agentid: options.agentId,
            text: { content: part },
          }),
        });
        const body = await res.json() as { errcode?: number; errmsg?: string };
        if (!body.errcode) return;
        // A token revoked or expired before its time is fetched anew by the next try, not
        // reused by every reply until its two hours are up.
        if (WECOM_TOKEN_REFUSED.includes(body.errcode)) accessToken = undefined;
        throw sendRefused(
          `wecom message/send: ${body.errmsg}`,
          body.errcode === WECOM_RATE_LIMITED ? RATE_WINDOW_MS : undefined,
        );
      });
    },
  };
}
