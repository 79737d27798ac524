/**
 * A local stand-in for the chat platforms' reply APIs, speaking their documented request and
 * response formats: Telegram's `POST /bot<token>/sendMessage` (`{"ok":true,"result":{...}}`),
 * Slack's `POST /chat.postMessage` (bearer token; `{"ok":true,"ts":...}`) and Discord's
 * `POST /webhooks/<application>/<token>` (the created message). It records every call.
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
    const path = new URL(req.url).pathname;
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
    return Response.json({ ok: false, error: "unknown_method" }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    close: () => server.shutdown(),
  };
}
