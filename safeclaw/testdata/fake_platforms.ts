/**
 * A local stand-in for the chat platforms' reply APIs, speaking their documented request and
 * response formats: Telegram's `POST /bot<token>/sendMessage` (`{"ok":true,"result":{...}}`),
 * Slack's `POST /chat.postMessage` (bearer token; `{"ok":true,"ts":...}`) and Discord's
 * `POST /webhooks/<application>/<token>` (the created message), WeCom's `GET /cgi-bin/gettoken`
 * and `POST /cgi-bin/message/send` (`errcode` 0), Feishu's tenant token,
 * `POST /open-apis/im/v1/messages` and `POST /open-apis/im/v1/messages/<id>/reply` (`code` 0),
 * and DingTalk's session webhook. It records every call. {@linkcode dingtalkPush} sends an event
 * subscription's push as DingTalk seals and signs it, and opens the answer as DingTalk does.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** One recorded call. */
export interface PlatformCall {
  path: string;
  authorization: string | null;
  body: Record<string, unknown>;
}

/** A running fake. */
export interface FakePlatforms {
  url: string;
  calls: PlatformCall[];
  close(): Promise<void>;
}

/** Starts the fake on a free loopback port. */
export function startFakePlatforms(): FakePlatforms {
  const calls: PlatformCall[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/cgi-bin/gettoken") {
      calls.push({ path, authorization: null, body: Object.fromEntries(url.searchParams) });
      return Response.json({
        errcode: 0,
        errmsg: "ok",
        access_token: "wecom-at",
        expires_in: 7200,
      });
    }
    const body = await req.json();
    calls.push({ path, authorization: req.headers.get("authorization"), body });
    if (/^\/bot[^/]+\/sendMessage$/.test(path)) {
      return Response.json({
        ok: true,
        result: { message_id: 99, chat: { id: body.chat_id }, date: 1, text: body.text },
      });
    }
    if (path === "/chat.postMessage") {
      if (!req.headers.get("authorization")?.startsWith("Bearer xoxb-")) {
        return Response.json({ ok: false, error: "not_authed" });
      }
      return Response.json({ ok: true, channel: body.channel, ts: "1700000000.000100" });
    }
    if (path.startsWith("/webhooks/")) {
      return Response.json({ id: "1", channel_id: "c", content: body.content });
    }
    if (path === "/cgi-bin/message/send") {
      const ok = url.searchParams.get("access_token") === "wecom-at";
      return Response.json(
        ok ? { errcode: 0, errmsg: "ok" } : { errcode: 40014, errmsg: "invalid access_token" },
      );
    }
    if (path === "/open-apis/auth/v3/tenant_access_token/internal") {
      return Response.json({ code: 0, msg: "ok", tenant_access_token: "t-feishu", expire: 7200 });
    }
    if (
      path === "/open-apis/im/v1/messages" ||
      /^\/open-apis\/im\/v1\/messages\/[^/]+\/reply$/.test(path)
    ) {
      const ok = req.headers.get("authorization") === "Bearer t-feishu";
      return Response.json(
        ok ? { code: 0, msg: "success", data: {} } : { code: 99991663, msg: "bad token" },
      );
    }
    if (path === "/robot/sendBySession") return Response.json({ errcode: 0, errmsg: "ok" });
    return Response.json({ ok: false, error: "unknown_method" }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    close: () => server.shutdown(),
  };
}

/** The keys of a DingTalk event subscription, as its page shows them. */
export interface DingtalkKeys {
  token: string;
  aesKey: string;
  appKey: string;
}

/** DingTalk's seal: AES-256-CBC, IV the key's first 16 bytes, PKCS#7 to 32 bytes, written here from its SDK's description. */
function dingtalkSeal(keys: DingtalkKeys, message: string, sealedFor: string): string {
  const key = Buffer.from(keys.aesKey + "=", "base64");
  const text = Buffer.from(message, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(text.length);
  const plain = Buffer.concat([randomBytes(16), length, text, Buffer.from(sealedFor, "utf8")]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([
    cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])),
    cipher.final(),
  ])
    .toString("base64");
}

function dingtalkOpen(
  keys: DingtalkKeys,
  encrypted: string,
): { message: string; sealedFor: string } {
  const key = Buffer.from(keys.aesKey + "=", "base64");
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  const padded = Buffer.concat([
    decipher.update(Buffer.from(encrypted, "base64")),
    decipher.final(),
  ]);
  const plain = padded.subarray(0, padded.length - padded[padded.length - 1]);
  const length = plain.readUInt32BE(16);
  return {
    message: plain.subarray(20, 20 + length).toString("utf8"),
    sealedFor: plain.subarray(20 + length).toString("utf8"),
  };
}

function dingtalkSignature(token: string, ...values: string[]): string {
  return createHash("sha1").update([token, ...values].sort().join("")).digest("hex");
}

/** How a test bends a push away from DingTalk's. */
export interface DingtalkPushOptions {
  /** The push's timestamp, in milliseconds. */
  timestampMs: number;
  /** Sealed for this key rather than the app's. */
  sealedFor?: string;
  /** The signature parameter's name (`msg_signature`, or older pushes' `signature`). */
  signatureName?: string;
  /** Signed with this token rather than the app's. */
  token?: string;
}

/** A push of `event` (JSON) to `url`, sealed and signed as DingTalk sends it. */
export function dingtalkPush(
  url: string,
  keys: DingtalkKeys,
  event: Record<string, unknown>,
  options: DingtalkPushOptions,
): Request {
  const encrypt = dingtalkSeal(keys, JSON.stringify(event), options.sealedFor ?? keys.appKey);
  const timestamp = String(options.timestampMs);
  const nonce = "nEXhMP4r";
  const signature = dingtalkSignature(options.token ?? keys.token, timestamp, nonce, encrypt);
  const target = new URL(url);
  target.searchParams.set(options.signatureName ?? "msg_signature", signature);
  target.searchParams.set("timestamp", timestamp);
  target.searchParams.set("nonce", nonce);
  return new Request(target, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ encrypt }),
  });
}

/**
 * What DingTalk makes of the answer to a push: the plaintext when the answer is signed with the
 * token and sealed for the app, else why it is not.
 */
export async function dingtalkReadAnswer(
  keys: DingtalkKeys,
  response: Response,
): Promise<{ ok: true; plaintext: string } | { ok: false; why: string }> {
  if (response.status !== 200) return { ok: false, why: `status ${response.status}` };
  const body = await response.json() as Record<string, unknown>;
  const { msg_signature, timeStamp, nonce, encrypt } = body;
  if (
    typeof msg_signature !== "string" || typeof timeStamp !== "string" ||
    typeof nonce !== "string" || typeof encrypt !== "string"
  ) {
    return { ok: false, why: `not an encrypted answer: ${JSON.stringify(body)}` };
  }
  if (dingtalkSignature(keys.token, timeStamp, nonce, encrypt) !== msg_signature) {
    return { ok: false, why: "msg_signature does not match" };
  }
  const opened = dingtalkOpen(keys, encrypt);
  if (opened.sealedFor !== keys.appKey) return { ok: false, why: "sealed for another app" };
  return { ok: true, plaintext: opened.message };
}
