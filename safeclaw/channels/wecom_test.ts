import { assert, assertEquals } from "@a3s/common/testing";
import { wecomChannel } from "./wecom.ts";
import { wecomEncrypt, wecomSignature } from "./wecom_crypto.ts";
import type { ChannelAdapter } from "./types.ts";
import { assertReplayRefusedAfterPrune } from "./_replay_after_prune.ts";

/** The timestamp of WeCom's documented callback example, in seconds. */
const SECONDS = 1409659813;
const NOW = SECONDS * 1000;
const AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const TOKEN = "QDG6eK";
const NONCE = "263014780";
const STALE = "request timestamp outside the 5-minute window (replay)";

const wecom = (now: () => number, apiBase?: string) =>
  wecomChannel({
    corpId: "wwcorp",
    corpSecret: "sec",
    agentId: 1000002,
    token: TOKEN,
    encodingAesKey: AES_KEY,
    apiBase,
    now,
  });

/** The query WeCom signs `encrypted` with at `seconds`. */
const query = (encrypted: string, seconds: number) =>
  `msg_signature=${
    wecomSignature(TOKEN, String(seconds), NONCE, encrypted)
  }&timestamp=${seconds}&nonce=${NONCE}`;

const XML = `<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>` +
  `<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1409659813</CreateTime>` +
  `<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[delete the build folder]]></Content>` +
  `<MsgId>1234567890123456</MsgId><AgentID>1000002</AgentID></xml>`;

/** A text message callback sent at `seconds`. */
function callback(seconds: number): Request {
  const encrypted = wecomEncrypt(AES_KEY, XML, "wwcorp");
  return new Request(`http://localhost/wecom?${query(encrypted, seconds)}`, {
    method: "POST",
    body: `<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><Encrypt><![CDATA[${encrypted}]]>` +
      `</Encrypt></xml>`,
  });
}

/** The URL check sent at `seconds`, whose echostr decrypts to `echo`. */
function urlCheck(seconds: number, echo = "1616140317555161061"): Request {
  const encrypted = wecomEncrypt(AES_KEY, echo, "wwcorp");
  return new Request(
    `http://localhost/wecom?${query(encrypted, seconds)}&echostr=${encodeURIComponent(encrypted)}`,
  );
}

const receive = async (adapter: ChannelAdapter, request: Request) =>
  await adapter.receive(
    request,
    request.method === "GET" ? new Uint8Array() : new Uint8Array(await request.arrayBuffer()),
  );

Deno.test("wecom: a callback whose signed timestamp is more than five minutes from now is refused", async () => {
  const adapter = wecom(() => NOW);
  for (const offset of [-300, 0, 300]) {
    assertEquals((await receive(adapter, callback(SECONDS + offset))).kind, "message");
  }
  for (const offset of [-301, 301, -3 * 86_400]) {
    assertEquals(await receive(adapter, callback(SECONDS + offset)), {
      kind: "unauthorized",
      reason: STALE,
    });
  }
  // The timestamp is signed: moving it forward breaks the signature.
  const moved = callback(SECONDS - 3600);
  const url = new URL(moved.url);
  url.searchParams.set("timestamp", String(SECONDS));
  assertEquals(
    await receive(adapter, new Request(url, { method: "POST", body: await moved.text() })),
    { kind: "unauthorized", reason: "msg_signature does not match" },
  );
});

Deno.test("wecom: the URL check is answered when fresh, refused when replayed late", async () => {
  const adapter = wecom(() => NOW);
  const fresh = await receive(adapter, urlCheck(SECONDS - 2));
  assert(fresh.kind === "reply");
  assertEquals(await fresh.response.text(), "1616140317555161061");
  assertEquals(await receive(adapter, urlCheck(SECONDS - 3600)), {
    kind: "unauthorized",
    reason: STALE,
  });
});

Deno.test("wecom: a captured callback replayed after the delivery memory is pruned is refused and audited", async () => {
  await assertReplayRefusedAfterPrune({
    channel: "wecom",
    start: NOW,
    adapter: wecom,
    captured: callback(SECONDS),
    replyPath: "/cgi-bin/message/send",
    reason: STALE,
  });
});
