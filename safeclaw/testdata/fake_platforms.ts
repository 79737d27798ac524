/**
 * A local stand-in for the chat platforms' reply APIs, speaking their documented request and
 * response formats: Telegram's `POST /bot<token>/sendMessage` (`{"ok":true,"result":{...}}`),
 * Slack's `POST /chat.postMessage` (bearer token; `{"ok":true,"ts":...}`) and Discord's
 * `POST /webhooks/<application>/<token>` (the created message), WeCom's `GET /cgi-bin/gettoken`
 * and `POST /cgi-bin/message/send` (`errcode` 0), Feishu's tenant token and
 * `POST /open-apis/im/v1/messages` (`code` 0), and DingTalk's session webhook. It records every
 * call.
 */

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
      return Response.json({ errcode: 0, errmsg: "ok", access_token: "wecom-at", expires_in: 7200 });
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
      return Response.json(ok ? { errcode: 0, errmsg: "ok" } : { errcode: 40014, errmsg: "invalid access_token" });
    }
    if (path === "/open-apis/auth/v3/tenant_access_token/internal") {
      return Response.json({ code: 0, msg: "ok", tenant_access_token: "t-feishu", expire: 7200 });
    }
    if (path === "/open-apis/im/v1/messages") {
      const ok = req.headers.get("authorization") === "Bearer t-feishu";
      return Response.json(ok ? { code: 0, msg: "success", data: {} } : { code: 99991663, msg: "bad token" });
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
