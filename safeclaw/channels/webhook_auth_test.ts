/**
 * What an unauthenticated caller can learn from, and do to, the webhooks: every refusal looks the
 * same, nothing is decrypted before its signature verifies, signatures cover the bytes received,
 * replays are acknowledged or refused as they should be and audited, and a flood of refusals
 * does not flood the audit log.
 */
import { openChannelGuard } from "./_test_guard.ts";
import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { randomBytes } from "node:crypto";
import {
  AUTH_FAILURE_KIND,
  BROKEN_BODY_REASON,
  ChannelHub,
  DUPLICATE_DELIVERY_KIND,
  MAX_WEBHOOK_BODY_BYTES,
  webhookBodyLimit,
} from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import { telegramChannel } from "./telegram.ts";
import { slackChannel } from "./slack.ts";
import { discordChannel } from "./discord.ts";
import {
  FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON,
  FEISHU_CLIENT_OVER_BUDGET_REASON,
  FEISHU_UNSIGNED_FAILURES_PER_MINUTE,
  FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL,
  feishuChannel,
} from "./feishu.ts";
import { dingtalkChannel } from "./dingtalk.ts";
import { wecomChannel } from "./wecom.ts";
import { wecomEncrypt } from "./wecom_crypto.ts";
import {
  dingtalkHeaders,
  discordKeys,
  feishuHeaders,
  feishuSeal as sealFeishu,
  slackHeaders,
  wecomQuery,
} from "./_test_signing.ts";
import {
  AUDIT_COALESCE_MAX_CLIENTS,
  AuditCoalescer,
  type CoalescedRecord,
  OTHER_CLIENTS,
} from "./audit_coalescer.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";

const NOW_SECONDS = 1_700_000_000;
const NOW = NOW_SECONDS * 1000;
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const FEISHU_KEY = "test-encrypt-key";
const WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const DING_EVENTS = { token: "ding-token", aesKey: WECOM_KEY, appKey: "dingappkey" };

/** A hub with every adapter on a pinned clock, the guard it audits to, and what it answered. */
async function setup(
  options: {
    auditWindowMs?: number;
    bodyLimit?: number;
    onAuditError?: (error: unknown) => void;
    /** The clock of every adapter, the deliveries and the audit (pinned at `NOW` unless given). */
    now?: () => number;
  } = {},
) {
  const { store, guard } = await openChannelGuard();
  const platforms = startFakePlatforms();
  const discord = await discordKeys();
  const apiBase = platforms.url;
  const now = options.now ?? (() => NOW);
  const seen: string[] = [];
  const hub = new ChannelHub(guard, [
    telegramChannel({ botToken: "1:a", secretToken: "tg-secret", apiBase }),
    slackChannel({
      signingSecret: SLACK_SECRET,
      botToken: "xoxb-1",
      apiBase,
      now: () => NOW_SECONDS,
    }),
    discordChannel({
      publicKey: discord.publicKey,
      applicationId: "app1",
      apiBase,
      now,
    }),
    feishuChannel({
      appId: "cli_a",
      appSecret: "sec",
      verificationToken: "vtok",
      encryptKey: FEISHU_KEY,
      apiBase,
      now,
    }),
    dingtalkChannel({ appSecret: "ding-secret", eventSubscription: DING_EVENTS, apiBase, now }),
    wecomChannel({
      corpId: "wwcorp",
      corpSecret: "sec",
      agentId: 1000002,
      token: "QDG6eK",
      encodingAesKey: WECOM_KEY,
      apiBase,
      now,
    }),
  ], (input) => {
    seen.push(input.text);
    return Promise.resolve("ok");
  }, {
    deliveries: await DeliveryLog.open(store, now),
    auditWindowMs: options.auditWindowMs,
    bodyLimit: options.bodyLimit,
    onAuditError: options.onAuditError,
    now,
  });
  const send = async (channel: string, request: Request, client?: string) => {
    const response = await hub.handle(channel, request, client);
    const body = await response.text();
    return { status: response.status, body, type: response.headers.get("content-type") };
  };
  // Records are written after the answer: settled first, the log holds every one so far.
  const audited = async (kind: string) => {
    await hub.settle();
    return (await guard.audit.list({ kind })).map((r) => r.data as CoalescedRecord["data"]);
  };
  const close = async () => {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  };
  return { hub, guard, platforms, seen, send, audited, close, discordKey: discord.privateKey };
}

const post = (headers: Record<string, string>, body: BodyInit, url = "http://localhost/hook") =>
  new Request(url, { method: "POST", headers, body });

/** A Feishu event sealed under the Encrypt Key, as Feishu sends it. */
const feishuSeal = (value: unknown) => sealFeishu(FEISHU_KEY, value);

/** `body` with Feishu's headers, signed over `signedBytes` (the body unless given). */
function feishuPost(body: BodyInit, signedBytes: string | Uint8Array, signature?: string) {
  const headers = feishuHeaders(FEISHU_KEY, NOW_SECONDS, signedBytes);
  return post(
    signature === undefined ? headers : { ...headers, "x-lark-signature": signature },
    body,
  );
}

const feishuMessage = (eventId: string, text: string) =>
  feishuSeal({
    schema: "2.0",
    header: { event_id: eventId, event_type: "im.message.receive_v1", token: "vtok" },
    event: {
      sender: { sender_id: { open_id: "ou_1" }, sender_type: "user" },
      message: {
        chat_id: "oc_1",
        message_id: `om_${eventId}`,
        message_type: "text",
        content: JSON.stringify({ text }),
      },
    },
  });

/** Sixteen bytes of ciphertext after an IV, whose padding is almost surely not PKCS#7. */
const badPadding = () => JSON.stringify({ encrypt: randomBytes(32).toString("base64") });

const slackPost = (body: BodyInit, signedBytes: string | Uint8Array) =>
  post(slackHeaders(SLACK_SECRET, NOW_SECONDS, signedBytes), body);

const slackEvent = (eventId: string, text: string, ts = "1.2") =>
  JSON.stringify({
    type: "event_callback",
    event_id: eventId,
    event: { type: "message", user: "U1", channel: "C1", text, ts },
  });

Deno.test("feishu: a wrongly signed request is refused before decryption, whatever its ciphertext", async () => {
  const { send, audited, seen, close } = await setup();
  try {
    // Bad padding and good padding (a real event) alike, with a wrong signature: before, the
    // first was refused as "does not decrypt" and the second as a signature mismatch, which is
    // the padding oracle. Refused before the cipher runs, both fail on the signature.
    const wrong = "0".repeat(64);
    const results = [
      await send("feishu", feishuPost(badPadding(), "", wrong)),
      await send("feishu", feishuPost(feishuMessage("e1", "hi"), "", wrong)),
      await send("feishu", feishuPost('{"encrypt":"!!"}', "", wrong)),
    ];
    assertEquals(new Set(results.map((r) => `${r.status} ${r.body}`)).size, 1);
    const reasons = new Set((await audited(AUTH_FAILURE_KIND)).map((r) => r.reason));
    assertEquals([...reasons], ["X-Lark-Signature does not match"]);
    assertEquals(seen, []);
  } finally {
    await close();
  }
});

Deno.test("feishu: unsigned bodies are decrypted for the URL check only, a sender's failures a minute bounded, and all refused alike", async () => {
  const { send, audited, close } = await setup();
  try {
    const unsigned = (body: string) => post({}, body);
    const bodies = [];
    for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE + 5; i++) {
      const body = i % 3 === 2 ? "null" : i % 2 ? badPadding() : feishuMessage("u", "x");
      bodies.push(await send("feishu", unsigned(body), "203.0.113.5"));
    }
    assertEquals(
      new Set(bodies.map((r) => `${r.status} ${r.body}`)),
      new Set(['401 {"error":"unauthorized"}']),
    );
    const reasons = (await audited(AUTH_FAILURE_KIND)).map((r) => r.reason);
    assert(reasons.includes(FEISHU_CLIENT_OVER_BUDGET_REASON), String(reasons));
  } finally {
    await close();
  }
});

Deno.test("every 401 on every channel has the same status, body and type; the reason is audited only", async () => {
  const { send, audited, close } = await setup();
  try {
    const ts = String(NOW_SECONDS);
    const refused = [
      await send("telegram", post({ "x-telegram-bot-api-secret-token": "wrong" }, "{}")),
      await send("telegram", post({}, "{}")),
      await send(
        "slack",
        post({ "x-slack-request-timestamp": ts, "x-slack-signature": "v0=00" }, "{}"),
      ),
      await send("slack", post({}, "{}")),
      await send(
        "slack",
        post(slackHeaders(SLACK_SECRET, NOW_SECONDS - 1000, "{}"), "{}"),
      ),
      await send(
        "discord",
        post({ "x-signature-ed25519": "00".repeat(64), "x-signature-timestamp": ts }, "{}"),
      ),
      await send("feishu", feishuPost(badPadding(), "", "1".repeat(64))),
      await send("feishu", post({}, badPadding())),
      await send("feishu", post({}, "null")),
      await send("dingtalk", post({ timestamp: String(NOW), sign: "x" }, "{}")),
      await send(
        "dingtalk",
        post({}, "{}", `http://localhost/hook?msg_signature=0&timestamp=${NOW}&nonce=1`),
      ),
      await send(
        "wecom",
        post(
          {},
          "<xml><Encrypt>x</Encrypt></xml>",
          `http://localhost/hook?msg_signature=0&timestamp=${ts}&nonce=1`,
        ),
      ),
      await send(
        "wecom",
        new Request(`http://localhost/hook?msg_signature=0&timestamp=${ts}&nonce=1&echostr=x`),
      ),
    ];
    for (const r of refused) {
      assertEquals([r.status, r.body, r.type], [
        401,
        '{"error":"unauthorized"}',
        "application/json",
      ]);
    }
    const reasons = new Set((await audited(AUTH_FAILURE_KIND)).map((r) => r.reason));
    // The reasons differ, and are kept where the operator reads them.
    assert(reasons.size >= 8, [...reasons].join(" | "));
  } finally {
    await close();
  }
});

Deno.test("slack and feishu verify the bytes received: a BOM added is refused, a non-UTF-8 body signed as sent is taken", async () => {
  const { hub, send, seen, close } = await setup();
  try {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const withBom = (text: string) => new Uint8Array([...bom, ...new TextEncoder().encode(text)]);
    const slackBody = slackEvent("Ev1", "hello");
    assertEquals((await send("slack", slackPost(withBom(slackBody), slackBody))).status, 401);
    const feishuBody = feishuMessage("f1", "hello");
    assertEquals((await send("feishu", feishuPost(withBom(feishuBody), feishuBody))).status, 401);
    // A byte that is not UTF-8 (0xff) in a string the platform signed as it sent it.
    const latin = (text: string) => {
      const bytes = new TextEncoder().encode(text);
      const at = text.lastIndexOf("caf") + 3;
      return new Uint8Array([...bytes.slice(0, at), 0xff, ...bytes.slice(at)]);
    };
    const slackRaw = latin(slackEvent("Ev2", "caf au lait"));
    assertEquals((await send("slack", slackPost(slackRaw, slackRaw))).status, 200);
    const envelope = JSON.parse(feishuMessage("f2", "bonjour")) as { encrypt: string };
    const feishuRaw = latin(JSON.stringify({ ...envelope, note: "caf" }));
    assertEquals((await send("feishu", feishuPost(feishuRaw, feishuRaw))).status, 200);
    await hub.settle();
    assertEquals(seen, ["caf\ufffd au lait", "bonjour"]);
  } finally {
    await close();
  }
});

Deno.test("a byte-identical replay is acknowledged as a redelivery and audited once; the same signature with another body is a 401", async () => {
  const { hub, send, audited, seen, close } = await setup();
  try {
    const body = slackEvent("Ev9", "hello");
    const first = await send("slack", slackPost(body, body));
    const again = await send("slack", slackPost(body, body));
    assertEquals([first.status, again.status], [200, 200]);
    await hub.settle();
    assertEquals(seen, ["hello"]);
    const duplicates = await audited(DUPLICATE_DELIVERY_KIND);
    assertEquals(duplicates.map((d) => [d.channel, d.count]), [["slack", 1]]);
    assertEquals(await audited(AUTH_FAILURE_KIND), []);

    // WeCom signs the Encrypt element only: its signature with other XML around it is a replay.
    const xml = "<xml><FromUserName>zhangsan</FromUserName><MsgType>text</MsgType>" +
      "<Content>hi</Content><MsgId>77</MsgId><AgentID>1000002</AgentID></xml>";
    const encrypted = wecomEncrypt(WECOM_KEY, xml, "wwcorp");
    const ts = String(NOW_SECONDS);
    const url = `http://localhost/hook?${wecomQuery("QDG6eK", ts, "n", encrypted)}`;
    const wrapped = (extra: string) =>
      post({}, `<xml>${extra}<Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`, url);
    const genuine = await send("wecom", wrapped("<ToUserName>wwcorp</ToUserName>"));
    // WeCom documents an empty body as "received, no passive reply".
    assertEquals([genuine.status, genuine.body], [200, ""]);
    assertEquals((await send("wecom", wrapped("<ToUserName>wwcorp</ToUserName>"))).body, "");
    const other = await send("wecom", wrapped("<ToUserName>elsewhere</ToUserName>"));
    assertEquals(other.status, 401);
    await hub.settle();
    assertEquals(seen, ["hello", "hi"]);
    const failures = await audited(AUTH_FAILURE_KIND);
    assertEquals(failures.map((f) => [f.channel, f.reason]), [[
      "wecom",
      "signature already used for another body (replay)",
    ]]);
    // Sent again, the refused body is still refused: it did not become "the same request".
    assertEquals((await send("wecom", wrapped("<ToUserName>elsewhere</ToUserName>"))).status, 401);
  } finally {
    await close();
  }
});

Deno.test("telegram: a redelivered update is acknowledged, answered once and audited as a duplicate", async () => {
  const { hub, send, audited, seen, close } = await setup();
  try {
    const update = JSON.stringify({
      update_id: 5,
      message: { message_id: 1, from: { id: 42 }, chat: { id: 42 }, text: "hi" },
    });
    for (let i = 0; i < 3; i++) {
      const r = await send(
        "telegram",
        post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update),
      );
      assertEquals(r.status, 200);
    }
    await hub.settle();
    assertEquals(seen, ["hi"]);
    // The first duplicate is written; the next one is counted into the window's summary.
    assertEquals((await audited(DUPLICATE_DELIVERY_KIND)).map((d) => d.count), [1]);
    await hub.close();
    assertEquals((await audited(DUPLICATE_DELIVERY_KIND)).map((d) => d.count), [1, 1]);
  } finally {
    await close();
  }
});

Deno.test("dingtalk: captured headers with another message's id do not burn that id; the genuine message is answered", async () => {
  const { hub, send, platforms, close } = await setup();
  try {
    const message = (msgId: string, content: string) =>
      JSON.stringify({
        msgtype: "text",
        text: { content },
        senderStaffId: "staff1",
        conversationId: "cid1",
        sessionWebhook: `${platforms.url}/robot/sendBySession`,
        msgId,
      });
    const signedAt = (ms: number, body: string) => post(dingtalkHeaders("ding-secret", ms), body);
    assertEquals((await send("dingtalk", signedAt(NOW, message("msgA", "a")))).status, 200);
    // An attacker's captured headers of msgA carrying msgB, whose id they predicted.
    assertEquals((await send("dingtalk", signedAt(NOW, message("msgB", "forged")))).status, 401);
    // DingTalk's own msgB, signed at its own time.
    assertEquals((await send("dingtalk", signedAt(NOW + 5, message("msgB", "b")))).status, 200);
    await hub.settle();
    const sent = platforms.calls.filter((c) => c.path === "/robot/sendBySession");
    assertEquals(sent.length, 2);
  } finally {
    await close();
  }
});

Deno.test("2,000 unauthenticated requests write two audit records, the second counting the rest", async () => {
  const { hub, send, audited, close } = await setup();
  try {
    for (let i = 0; i < 2_000; i++) {
      await send(
        "slack",
        post({ "x-slack-request-timestamp": "1", "x-slack-signature": "v0=0" }, "{}"),
      );
    }
    assertEquals((await audited(AUTH_FAILURE_KIND)).map((r) => r.count), [1]);
    await hub.close();
    const records = await audited(AUTH_FAILURE_KIND);
    assertEquals(records.map((r) => [r.channel, r.count]), [["slack", 1], ["slack", 1_999]]);
  } finally {
    await close();
  }
});

Deno.test("AuditCoalescer: one summary per window while a flood goes on, the pairs it counts bounded", async () => {
  let now = 0;
  const written: CoalescedRecord[] = [];
  const audit = new AuditCoalescer((record) => Promise.resolve(written.push(record)), {
    windowMs: 60_000,
    maxKeys: 3,
    now: () => now,
  });
  try {
    for (let minute = 0; minute < 3; minute++) {
      for (let i = 0; i < 100; i++) {
        now = minute * 60_000 + i * 10;
        await audit.record("channel_auth_failure", "warning", "slack", "bad");
      }
      now = (minute + 1) * 60_000;
      await audit.flush();
    }
    assertEquals(written.map((r) => r.data.count), [1, 99, 100, 100]);
    // A quiet window ends the count; the next refusal is written as a first one again.
    now += 60_000;
    await audit.flush();
    assertEquals(audit.size, 0);
    written.length = 0;
    for (let i = 0; i < 10; i++) {
      await audit.record("channel_auth_failure", "warning", "slack", `reason ${i}`);
      await audit.record("channel_auth_failure", "warning", "slack", `reason ${i}`);
    }
    assert(audit.size <= 3, `${audit.size} pairs counted`);
    // Nothing counted is lost: the pairs pushed out wrote their counts.
    await audit.close();
    assertEquals(written.reduce((sum, r) => sum + r.data.count, 0), 20);
  } finally {
    await audit.close();
  }
});

Deno.test("a body over the hub's limit is refused unread with 413, and audited", async () => {
  const { send, audited, close } = await setup({ bodyLimit: 1024 });
  try {
    const big = "x".repeat(2048);
    assertEquals((await send("slack", post({}, big))).status, 413);
    // Streamed without a length, it is cut off at the limit as well.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    assertEquals((await send("telegram", post({}, stream))).status, 413);
    const reasons = (await audited(AUTH_FAILURE_KIND)).map((r) => [r.channel, r.reason]);
    assertEquals(reasons, [
      ["slack", "body over 1024 bytes, refused unread"],
      ["telegram", "body over 1024 bytes, refused unread"],
    ]);
  } finally {
    await close();
  }
});

Deno.test("a body over the hub's limit is left unread, never cancelled (a cancelled body is read to its end)", async () => {
  const { send, close } = await setup({ bodyLimit: 1024 });
  try {
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 512;
        controller.enqueue(new Uint8Array(512));
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const answer = await send("slack", post({}, endless), "203.0.113.9");
    assertEquals(answer.status, 413);
    assertEquals(cancelled, false);
    assert(pulled <= 2048, `${pulled} bytes pulled`);
  } finally {
    await close();
  }
});

/** A signed-ready Slack message event of exactly `size` bytes: its JSON padded with spaces. */
function slackEventOfSize(eventId: string, text: string, size: number): string {
  const event = slackEvent(eventId, text);
  return event + " ".repeat(size - event.length);
}

Deno.test("the server's configured body limit bounds the webhooks: a body one byte over it is a 413, one at it is taken", async () => {
  const limit = 4096;
  const { hub, send, audited, seen, close } = await setup({ bodyLimit: limit });
  try {
    assertEquals(hub.maxBodyBytes, limit);
    const at = slackEventOfSize("Ev-at", "at the limit", limit);
    assertEquals((await send("slack", slackPost(at, at))).status, 200);
    // Signed and well formed, one byte more is refused before anything reads it.
    const over = slackEventOfSize("Ev-over", "over the limit", limit + 1);
    assertEquals((await send("slack", slackPost(over, over))).status, 413);
    // Streamed without a length, it is cut off at the configured limit as well.
    const bytes = new TextEncoder().encode(over);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, limit - 96));
        controller.enqueue(bytes.subarray(limit - 96));
        controller.close();
      },
    });
    const streamed = await hub.handle("slack", slackPost(stream, over));
    assertEquals([streamed.status, streamed.headers.get("connection")], [413, "close"]);
    await streamed.body?.cancel();
    await hub.settle();
    assertEquals(seen, ["at the limit"]);
    await hub.close();
    const refusals = (await audited(AUTH_FAILURE_KIND)).map((r) => [r.reason, r.count]);
    assertEquals(refusals, [
      [`body over ${limit} bytes, refused unread`, 1],
      [`body over ${limit} bytes, refused unread`, 1],
    ]);
  } finally {
    await close();
  }
});

Deno.test("a configured body limit above the webhooks' own does not raise it; one that is not a positive whole number is refused", async () => {
  const { hub, guard, send, seen, close } = await setup({ bodyLimit: 64 * 1024 * 1024 });
  try {
    assertEquals(hub.maxBodyBytes, MAX_WEBHOOK_BODY_BYTES);
    const over = slackEventOfSize("Ev-big", "one byte too big", MAX_WEBHOOK_BODY_BYTES + 1);
    assertEquals((await send("slack", slackPost(over, over))).status, 413);
    const at = slackEventOfSize("Ev-max", "as big as a webhook gets", MAX_WEBHOOK_BODY_BYTES);
    assertEquals((await send("slack", slackPost(at, at))).status, 200);
    await hub.settle();
    assertEquals(seen, ["as big as a webhook gets"]);
    assertEquals(webhookBodyLimit(undefined), MAX_WEBHOOK_BODY_BYTES);
    assertEquals(webhookBodyLimit(1), 1);
    for (const bad of [0, -1, 1.5, NaN, Infinity]) {
      const message = `bodyLimit must be a positive whole number of bytes, got ${bad}`;
      assertThrows(() => webhookBodyLimit(bad), RangeError, message);
      assertThrows(
        () => new ChannelHub(guard, [], () => Promise.resolve(""), { bodyLimit: bad }),
        RangeError,
        message,
      );
    }
  } finally {
    await close();
  }
});

Deno.test("a body that breaks off before its end is a 400 with one line, audited, and throws nothing", async () => {
  const { send, audited, close } = await setup();
  try {
    // What the server hands over when the client closes its connection mid-body.
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("ab"));
        controller.error(new Deno.errors.BadResource("the client went away"));
      },
    });
    const answer = await send("slack", post({}, broken), "203.0.113.9");
    assertEquals([answer.status, answer.body], [
      400,
      '{"error":"the request body broke off before its end"}',
    ]);
    assertEquals(await audited(AUTH_FAILURE_KIND), [
      { channel: "slack", reason: BROKEN_BODY_REASON, client: "203.0.113.9", count: 1 },
    ]);
  } finally {
    await close();
  }
});

Deno.test("refusals are counted per client network: a noisy sender does not hide another, and each record names its network", async () => {
  const { hub, send, audited, close } = await setup();
  try {
    const forged = (headers: Record<string, string> = {}) =>
      post({ ...headers, "x-slack-request-timestamp": "1", "x-slack-signature": "v0=0" }, "{}");
    for (let i = 0; i < 50; i++) await send("slack", forged(), "203.0.113.9");
    // One /64 is one sender, whichever of its addresses it uses.
    for (let i = 0; i < 5; i++) await send("slack", forged(), `2001:db8::${i + 7}`);
    await send("slack", forged());
    // Not an address: not taken for one.
    await send("slack", forged(), "evil, 10.0.0.1");
    // A header naming an address is not the request's address: only the security layer's is.
    await send("slack", forged({ "x-a3s-peer": "198.51.100.1" }));
    const reason = "timestamp outside the five-minute window (replay)";
    assertEquals(await audited(AUTH_FAILURE_KIND), [
      { channel: "slack", reason, client: "203.0.113.9", count: 1 },
      { channel: "slack", reason, client: "2001:db8:0:0::/64", count: 1 },
      { channel: "slack", reason, client: "unknown", count: 1 },
    ]);
    await hub.close();
    const summaries = (await audited(AUTH_FAILURE_KIND)).slice(3);
    assertEquals(summaries.map((r) => [r.client, r.count]), [
      ["203.0.113.9", 49],
      ["2001:db8:0:0::/64", 4],
      ["unknown", 2],
    ]);
  } finally {
    await close();
  }
});

Deno.test("AuditCoalescer: past its networks per reason the rest count together; a count pushed out early says so", async () => {
  const written: CoalescedRecord[] = [];
  const audit = new AuditCoalescer((record) => Promise.resolve(written.push(record)), {
    maxClients: 2,
    now: () => 0,
  });
  try {
    for (let i = 1; i <= 1_000; i++) {
      audit.record("channel_auth_failure", "warning", "feishu", "bad", `192.0.2.${i % 250}`);
    }
    await audit.settled();
    // A flood from many addresses writes a bounded number of records, and holds few counts.
    assertEquals(written.map((r) => [r.data.client, r.data.count]), [
      ["192.0.2.1", 1],
      ["192.0.2.2", 1],
      [OTHER_CLIENTS, 1],
    ]);
    assertEquals(audit.size, 3);
    // Another reason has networks of its own.
    audit.record("channel_auth_failure", "warning", "feishu", "other", "192.0.2.3");
    await audit.settled();
    assertEquals(written.at(-1)?.data.client, "192.0.2.3");
    await audit.close();
    assertEquals(written.reduce((sum, r) => sum + r.data.count, 0), 1_001);
  } finally {
    await audit.close();
  }

  const evictions: CoalescedRecord[] = [];
  const bounded = new AuditCoalescer((record) => Promise.resolve(evictions.push(record)), {
    maxKeys: 2,
    now: () => 0,
  });
  for (const client of ["192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
    bounded.record("channel_auth_failure", "warning", "slack", "bad", client);
  }
  assertEquals(bounded.size, 2);
  await bounded.settled();
  assertEquals(evictions.map((r) => [r.data.client, r.data.count, r.data.evicted]), [
    ["192.0.2.1", 1, undefined],
    ["192.0.2.2", 1, undefined],
    ["192.0.2.3", 1, undefined],
    ["192.0.2.1", 1, true],
  ]);
  await bounded.close();
});

Deno.test("AuditCoalescer: one IPv6 /64 takes one place however many addresses it uses; a place no one repeats is free once its window ends", async () => {
  let now = 0;
  const written: CoalescedRecord[] = [];
  const audit = new AuditCoalescer((record) => Promise.resolve(written.push(record)), {
    maxClients: 2,
    windowMs: 60_000,
    now: () => now,
  });
  try {
    const refuse = (client: string) =>
      audit.record("channel_auth_failure", "warning", "slack", "bad", client);
    for (let i = 1; i <= 500; i++) refuse(`2001:db8:1:2::${i.toString(16)}`);
    refuse("203.0.113.9");
    await audit.settled();
    assertEquals(written.map((r) => [r.data.client, r.data.count]), [
      ["2001:db8:1:2::/64", 1],
      ["203.0.113.9", 1],
    ]);
    // Two places taken by senders that never came back: once their window is over, a new
    // sender has a place of its own, though nothing repeated to end the window for them.
    now = 60_000;
    refuse("198.51.100.7");
    await audit.settled();
    assertEquals(written.at(-1)?.data.client, "198.51.100.7");
    await audit.close();
    assertEquals(written.reduce((sum, r) => sum + r.data.count, 0), 502);
  } finally {
    await audit.close();
  }
});

Deno.test("AuditCoalescer: record returns before its write, and a write that fails is reported, not thrown", async () => {
  const failures: string[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const written: string[] = [];
  const audit = new AuditCoalescer(async (record) => {
    if (record.data.reason === "fails") throw new Error("store is gone");
    await held;
    written.push(record.data.reason);
  }, { onError: (error, record) => failures.push(`${record.data.reason}: ${error}`) });
  audit.record("channel_auth_failure", "warning", "slack", "held");
  audit.record("channel_auth_failure", "warning", "slack", "fails");
  // Nothing is written in the caller's turn: the write waits for the caller to move on.
  assertEquals(written, []);
  const settling = audit.settled();
  release();
  await settling;
  assertEquals(written, ["held"]);
  assertEquals(failures, ["fails: Error: store is gone"]);
  await audit.close();
});

Deno.test("a refusal is answered without waiting for its audit record, and a record that cannot be written is reported", async () => {
  const reported: string[] = [];
  const { hub, guard, send, close } = await setup({
    onAuditError: (error) => reported.push(String(error)),
  });
  const append = guard.audit.append.bind(guard.audit);
  let release = () => {};
  const slow = new Promise<void>((resolve) => release = resolve);
  guard.audit.append = async (...args: Parameters<typeof append>) => {
    await slow;
    return await append(...args);
  };
  try {
    const forged = post({ "x-slack-request-timestamp": "1", "x-slack-signature": "v0=0" }, "{}");
    // Were the write awaited, this would never be answered: the write waits on `slow`.
    const answered = await Promise.race([
      send("slack", forged, "203.0.113.9").then((r) => r.status),
      new Promise((resolve) => setTimeout(() => resolve("waited for the audit write"), 2000)),
    ]);
    assertEquals(answered, 401);
    release();
    await hub.settle();
    assertEquals((await guard.audit.list({ kind: AUTH_FAILURE_KIND })).length, 1);
    // A store that fails the write: the request still gets its 401, the operator the error.
    guard.audit.append = () => Promise.reject(new Error("store is gone"));
    const refused = await send("slack", post({}, "{}"), "203.0.113.9");
    assertEquals(refused.status, 401);
    await hub.settle();
    assertEquals(reported, ["Error: store is gone"]);
  } finally {
    release();
    guard.audit.append = append;
    await close();
  }
});

Deno.test("feishu: failed unsigned requests under the overall cap spend only their own network's budget; the platform's check is not refused for others' failures", async () => {
  const { send, audited, close } = await setup();
  try {
    const unsigned = (body: string) => post({}, body);
    const urlCheck = feishuSeal({ type: "url_verification", challenge: "c-1", token: "vtok" });
    // An attacker's whole /64 is one sender: moving through its addresses buys nothing.
    for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE + 5; i++) {
      const r = await send("feishu", unsigned(badPadding()), `2001:db8:1:2::${i}`);
      assertEquals(r.status, 401);
    }
    const over = (await audited(AUTH_FAILURE_KIND)).filter((r) =>
      r.reason === FEISHU_CLIENT_OVER_BUDGET_REASON
    );
    assertEquals(over.map((r) => [r.client, r.count]), [["2001:db8:1:2::/64", 1]]);
    // The 22 networks' failures stay under the overall cap, which the next test spends.
    assert(22 * FEISHU_UNSIGNED_FAILURES_PER_MINUTE < FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL);
    // Eleven IPv4 senders, and ten /64s of one /56, each spending its minute and more.
    for (let s = 0; s < 11; s++) {
      for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE + 1; i++) {
        await send("feishu", unsigned(badPadding()), `203.0.113.${s}`);
      }
    }
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE + 1; i++) {
        await send("feishu", unsigned(badPadding()), `2001:db8:1:${s + 0x10}::1`);
      }
    }
    // Feishu's own check, from its own address, is answered; and a success spends nothing.
    for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE + 5; i++) {
      const platform = await send("feishu", unsigned(urlCheck), "198.51.100.7");
      assertEquals([platform.status, platform.body], [200, '{"challenge":"c-1"}']);
    }
    // The platform's check without a known address is answered too.
    assertEquals((await send("feishu", unsigned(urlCheck))).status, 200);
  } finally {
    await close();
  }
});

Deno.test("feishu: unsigned failures of all networks together are capped; past the cap each is refused undecrypted, a signed event still goes through, and the next minute restores the budget", async () => {
  let now = NOW;
  const { hub, send, audited, seen, close } = await setup({ now: () => now });
  try {
    const unsigned = (body: string) => post({}, body);
    const urlCheck = feishuSeal({ type: "url_verification", challenge: "c-1", token: "vtok" });
    // One sender's /48: each /64 in it a network of its own, failing once, far inside its own
    // budget. Before, each got its full budget: no cap on what the /48 had decrypted.
    const network = (i: number) => `2001:db8:1:${i.toString(16)}::1`;
    const past = 500;
    for (let i = 0; i < FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL + past; i++) {
      assertEquals((await send("feishu", unsigned(badPadding()), network(i))).status, 401);
    }
    // A signed event, even from a network of the flood, is verified and answered.
    const event = feishuMessage("e-after-cap", "signed after the cap");
    assertEquals((await send("feishu", feishuPost(event, event), network(0))).status, 200);
    // The platform's own unsigned check is refused with the rest until the minute turns...
    assertEquals((await send("feishu", unsigned(urlCheck), "198.51.100.7")).status, 401);
    now += 60_000;
    // ...and answered in the next, when an unsigned body is decrypted again.
    const check = await send("feishu", unsigned(urlCheck), "198.51.100.7");
    assertEquals([check.status, check.body], [200, '{"challenge":"c-1"}']);
    assertEquals((await send("feishu", unsigned(badPadding()), network(0xffff))).status, 401);
    await hub.settle();
    assertEquals(seen, ["signed after the cap"]);
    await hub.close();
    const counted = new Map<string, number>();
    for (const record of await audited(AUTH_FAILURE_KIND)) {
      counted.set(record.reason, (counted.get(record.reason) ?? 0) + record.count);
    }
    const capped = counted.get(FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON);
    counted.delete(FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON);
    // Every other refusal was of a body decrypted: the cap's worth in the first minute, one in
    // the next; no network ever reached its own budget.
    const decrypted = [...counted.values()].reduce((sum, count) => sum + count, 0);
    assertEquals(decrypted, FEISHU_UNSIGNED_FAILURES_PER_MINUTE_OVERALL + 1);
    assertEquals(capped, past + 1);
    assert(!counted.has(FEISHU_CLIENT_OVER_BUDGET_REASON), [...counted.keys()].join("; "));
    // Coalesced as every refusal is: past the networks counted apart, the rest count together.
    const cappedRecords = (await audited(AUTH_FAILURE_KIND)).filter((r) =>
      r.reason === FEISHU_ALL_CLIENTS_OVER_BUDGET_REASON
    );
    assert(cappedRecords.length <= 2 * AUDIT_COALESCE_MAX_CLIENTS + 2, `${cappedRecords.length}`);
    assert(cappedRecords.some((r) => r.client === OTHER_CLIENTS));
  } finally {
    await close();
  }
});
