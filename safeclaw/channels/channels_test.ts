import { channelGuard } from "./_test_guard.ts";
import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { ChannelHub, NO_ANSWER } from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import type { ChannelAdapter } from "./types.ts";
import { telegramChannel } from "./telegram.ts";
import { slackChannel } from "./slack.ts";
import {
  discordHeaders,
  discordKeys,
  feishuHeaders,
  feishuSeal,
  slackHeaders,
  wecomQuery,
} from "./_test_signing.ts";
import { discordChannel } from "./discord.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";

const NOW = 1_700_000_000;
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";

async function setup() {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await channelGuard(store);
  const platforms = startFakePlatforms();
  const keys = await discordKeys();
  const publicKey = keys.publicKey;
  const seen: { session: string; text: string; localOnly: boolean }[] = [];
  const hub = new ChannelHub(
    guard,
    [
      telegramChannel({ botToken: "123:abc", secretToken: "tg-secret", apiBase: platforms.url }),
      slackChannel({
        signingSecret: SLACK_SECRET,
        botToken: "xoxb-1",
        apiBase: platforms.url,
        now: () => NOW,
      }),
      discordChannel({
        publicKey,
        applicationId: "app1",
        apiBase: platforms.url,
        now: () => NOW * 1000,
      }),
    ],
    (input) => {
      seen.push(input);
      return Promise.resolve(`echo: ${input.text}; my mail is bot.owner@example.org`);
    },
  );
  const close = async () => {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  };
  return { guard, hub, platforms, keys, seen, close };
}

const post = (headers: Record<string, string>, body: string) =>
  new Request("http://localhost/hook", { method: "POST", headers, body });

Deno.test("telegram: the secret-token header is required; replies are sanitized and sent", async () => {
  const { hub, guard, platforms, seen, close } = await setup();
  try {
    const update = JSON.stringify({
      update_id: 1,
      message: {
        message_id: 7,
        from: { id: 42 },
        chat: { id: 1001 },
        text: "hi, call me on +44 20 7946 0958",
      },
    });
    const denied = await hub.handle(
      "telegram",
      post({ "x-telegram-bot-api-secret-token": "wrong" }, update),
    );
    assertEquals(denied.status, 401);
    const ok = await hub.handle(
      "telegram",
      post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update),
    );
    assertEquals(ok.status, 200);
    await hub.settle();
    assertEquals(seen[0].session, "42:telegram:1001");
    assertEquals(seen[0].text, "hi, call me on [PHONE_1]");
    const call = platforms.calls.find((c) => c.path === "/bot123:abc/sendMessage")!;
    assertEquals(call.body.chat_id, 1001);
    assertEquals(call.body.text, "echo: hi, call me on +44 20 7946 0958; my mail is [EMAIL_1]");
    const failures = await guard.audit.list({ kind: "channel_auth_failure" });
    assertEquals(failures.map((f) => f.data.channel), ["telegram"]);
    // Telegram delivers an update again until it gets a 200 in time: the second delivery is
    // acknowledged and not answered again (before, the user got two replies).
    const again = await hub.handle(
      "telegram",
      post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update),
    );
    assertEquals(again.status, 200);
    await again.body?.cancel();
    await hub.settle();
    assertEquals(seen.length, 1);
    assertEquals(platforms.calls.filter((c) => c.path === "/bot123:abc/sendMessage").length, 1);
  } finally {
    await close();
  }
});

Deno.test("slack: signing secret verified, five-minute replay window, url_verification", async () => {
  const { hub, guard, platforms, close } = await setup();
  try {
    const signed = (body: string, ts = NOW) =>
      post({ ...slackHeaders(SLACK_SECRET, ts, body), "content-type": "application/json" }, body);
    const challenge = JSON.stringify({ type: "url_verification", challenge: "3eZbrw1aB" });
    assertEquals(await (await hub.handle("slack", signed(challenge))).json(), {
      challenge: "3eZbrw1aB",
    });
    const event = JSON.stringify({
      type: "event_callback",
      event_id: "Ev01",
      event: { type: "message", user: "U1", channel: "C1", text: "hello", ts: "1.2" },
    });
    const replayed = await hub.handle("slack", signed(event, NOW - 301));
    assertEquals([replayed.status, await replayed.json()], [401, { error: "unauthorized" }]);
    // The record is written once the answer is out.
    await hub.settle();
    const audited = await guard.audit.list({ kind: "channel_auth_failure" });
    assert(String(audited.at(-1)?.data.reason).includes("replay"));
    const forged = await hub.handle(
      "slack",
      post({ "x-slack-request-timestamp": String(NOW), "x-slack-signature": "v0=00" }, event),
    );
    assertEquals(forged.status, 401);
    await forged.body?.cancel();
    assertEquals((await hub.handle("slack", signed(event))).status, 200);
    // Slack's retry of the same event (signed anew), and the same request sent again inside the
    // window, are acknowledged and handled once.
    for (const ts of [NOW + 60, NOW]) {
      const again = await hub.handle("slack", signed(event, ts));
      assertEquals(again.status, 200);
      await again.body?.cancel();
    }
    await hub.settle();
    assertEquals(platforms.calls.filter((c) => c.path === "/chat.postMessage").length, 1);
    const call = platforms.calls.find((c) => c.path === "/chat.postMessage")!;
    assertEquals([call.authorization, call.body.channel, call.body.thread_ts], [
      "Bearer xoxb-1",
      "C1",
      "1.2",
    ]);
  } finally {
    await close();
  }
});

Deno.test("discord: Ed25519 signatures, PING answered, commands deferred and followed up", async () => {
  const { hub, platforms, keys, close } = await setup();
  try {
    const signed = async (body: string, key = keys.privateKey) =>
      post(await discordHeaders(key, "1700000000", body), body);
    assertEquals(await (await hub.handle("discord", await signed('{"type":1}'))).json(), {
      type: 1,
    });
    const other = await discordKeys();
    const wrong = await hub.handle("discord", await signed('{"type":1}', other.privateKey));
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const command = JSON.stringify({
      type: 2,
      token: "itok",
      channel_id: "ch9",
      member: { user: { id: "u7" } },
      data: { name: "ask", options: [{ name: "text", value: "what is 2+2?" }] },
    });
    assertEquals(await (await hub.handle("discord", await signed(command))).json(), { type: 5 });
    await hub.settle();
    const call = platforms.calls.find((c) => c.path === "/webhooks/app1/itok")!;
    assert(String(call.body.content).startsWith("echo: what is 2+2?"));
  } finally {
    await close();
  }
});

Deno.test("a blocked message never reaches the responder", async () => {
  const { hub, platforms, seen, close } = await setup();
  try {
    const update = JSON.stringify({
      message: { message_id: 8, from: { id: 5 }, chat: { id: 6 }, text: "my SSN is 536-22-1947" },
    });
    await hub.handle("telegram", post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update));
    await hub.settle();
    assertEquals(seen.length, 0);
    assert(String(platforms.calls[0].body.text).includes("not processed"));
  } finally {
    await close();
  }
});

Deno.test("a chat reply gives back only the user's own values, never a tool result's, also through a typed placeholder", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await channelGuard(store);
  const platforms = startFakePlatforms();
  // The agent answers in the chat's session: it reads a tool result (vaulted there), then
  // echoes what the model wrote: the user's placeholder, the tool's, and the tool's address.
  const hub = new ChannelHub(
    guard,
    [telegramChannel({ botToken: "123:abc", secretToken: "tg-secret", apiBase: platforms.url })],
    async ({ session, text }) => {
      await guard.ingestToolResult(session, "sql", "row: bob.customer@corp.example, plan gold");
      return `${text} | [EMAIL_1] [EMAIL_2] bob.customer@corp.example`;
    },
  );
  const send = async (updateId: number, text: string) => {
    const update = JSON.stringify({
      update_id: updateId,
      message: { message_id: updateId, from: { id: 42 }, chat: { id: 7 }, text },
    });
    const response = await hub.handle(
      "telegram",
      post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update),
    );
    await response.body?.cancel();
    await hub.settle();
    return String(platforms.calls.at(-1)!.body.text);
  };
  try {
    // Before, the tool's address came back in clear three times over.
    assertEquals(
      await send(1, "I am ada@example.org"),
      "I am ada@example.org | ada@example.org [EMAIL_2] [EMAIL_2]",
    );
    // The user types the tool's placeholder to have it read back: it stays a placeholder.
    assertEquals(
      await send(2, "what is [EMAIL_2]?"),
      "what is [EMAIL_2]? | ada@example.org [EMAIL_2] [EMAIL_2]",
    );
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
});

Deno.test("wecom: msg_signature and AES payloads; the URL check echoes the decrypted echostr", async () => {
  const { wecomChannel } = await import("./wecom.ts");
  const { wecomEncrypt } = await import("./wecom_crypto.ts");
  const { guard, platforms, close } = await setup();
  const aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
  const hub = new ChannelHub(guard, [wecomChannel({
    corpId: "wwcorp",
    corpSecret: "sec",
    agentId: 1000002,
    token: "QDG6eK",
    encodingAesKey: aesKey,
    apiBase: platforms.url,
    now: () => 1409659813_000,
  })], (input) => Promise.resolve(`ok ${input.text}`));
  try {
    const q = (encrypted: string, extra = "") =>
      `http://localhost/hook?${wecomQuery("QDG6eK", "1409659813", "263014780", encrypted)}${extra}`;
    const echo = wecomEncrypt(aesKey, "1616140317555161061", "wwcorp");
    const check = await hub.handle(
      "wecom",
      new Request(q(echo, `&echostr=${encodeURIComponent(echo)}`)),
    );
    assertEquals(await check.text(), "1616140317555161061");
    const xml =
      `<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>` +
      `<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>` +
      `<MsgId>1234567890123456</MsgId><AgentID>1000002</AgentID></xml>`;
    const encrypted = wecomEncrypt(aesKey, xml, "wwcorp");
    const body =
      `<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
    const forged = await hub.handle("wecom", new Request(q("x"), { method: "POST", body }));
    assertEquals(forged.status, 401);
    await forged.body?.cancel();
    const foreign = wecomEncrypt(aesKey, xml, "other-corp");
    const wrongCorp = await hub.handle(
      "wecom",
      new Request(q(foreign), {
        method: "POST",
        body: `<xml><Encrypt><![CDATA[${foreign}]]></Encrypt></xml>`,
      }),
    );
    assertEquals(wrongCorp.status, 401);
    await wrongCorp.body?.cancel();
    assertEquals(
      (await hub.handle("wecom", new Request(q(encrypted), { method: "POST", body }))).status,
      200,
    );
    await hub.settle();
    const sent = platforms.calls.find((c) => c.path === "/cgi-bin/message/send")!;
    assertEquals([sent.body.touser, (sent.body.text as { content: string }).content], [
      "zhangsan",
      "ok 你好",
    ]);
  } finally {
    await hub.close();
    await close();
  }
});

Deno.test("feishu: encrypted events, X-Lark-Signature, verification token, redelivery ignored", async () => {
  const { feishuChannel } = await import("./feishu.ts");
  const { guard, platforms, close } = await setup();
  const encryptKey = "test-encrypt-key";
  const seal = (value: unknown) => feishuSeal(encryptKey, value);
  const hub = new ChannelHub(guard, [feishuChannel({
    appId: "cli_a",
    appSecret: "sec",
    verificationToken: "vtok",
    encryptKey,
    apiBase: platforms.url,
    now: () => NOW * 1000,
  })], (input) => Promise.resolve(`ok ${input.text}`));
  const signed = (body: string, signature?: string) =>
    new Request("http://localhost/hook", {
      method: "POST",
      body,
      headers: {
        ...feishuHeaders(encryptKey, "1700000000", body),
        ...(signature === undefined ? {} : { "x-lark-signature": signature }),
      },
    });
  try {
    const challenge = await hub.handle(
      "feishu",
      signed(seal({ challenge: "ch-1", token: "vtok", type: "url_verification" })),
    );
    assertEquals(await challenge.json(), { challenge: "ch-1" });
    const event = seal({
      schema: "2.0",
      header: { event_id: "ev-1", event_type: "im.message.receive_v1", token: "vtok" },
      event: {
        sender: { sender_id: { open_id: "ou_1" }, sender_type: "user" },
        message: {
          chat_id: "oc_1",
          message_id: "om_1",
          message_type: "text",
          content: '{"text":"hi"}',
        },
      },
    });
    const forged = await hub.handle("feishu", signed(event, "0".repeat(64)));
    assertEquals(forged.status, 401);
    await forged.body?.cancel();
    assertEquals((await hub.handle("feishu", signed(event))).status, 200);
    assertEquals((await hub.handle("feishu", signed(event))).status, 200);
    await hub.settle();
    // The answer replies to the message (not in a thread: the message was in none).
    const sent = platforms.calls.filter((c) => c.path === "/open-apis/im/v1/messages/om_1/reply");
    assertEquals(sent.length, 1);
    assertEquals(sent[0].body, {
      msg_type: "text",
      content: '{"text":"ok hi"}',
      reply_in_thread: false,
    });
  } finally {
    await hub.close();
    await close();
  }
});

Deno.test("dingtalk: HMAC sign and one-hour window; replies only to the DingTalk host", async () => {
  const { dingtalkChannel, dingtalkSign } = await import("./dingtalk.ts");
  const { guard, platforms, close } = await setup();
  const now = 1_700_000_000_000;
  const hub = new ChannelHub(guard, [dingtalkChannel({
    appSecret: "ding-secret",
    apiBase: platforms.url,
    now: () => now,
  })], (input) => Promise.resolve(`ok ${input.text}`));
  const message = (webhook: string, msgId = "m1", content = " hello ") =>
    JSON.stringify({
      msgtype: "text",
      text: { content },
      senderStaffId: "staff1",
      conversationId: "cid1",
      sessionWebhook: webhook,
      msgId,
    });
  const signed = (body: string, ts = now) =>
    new Request("http://localhost/hook", {
      method: "POST",
      body,
      headers: { timestamp: String(ts), sign: dingtalkSign("ding-secret", String(ts)) },
    });
  try {
    const old = await hub.handle(
      "dingtalk",
      signed(message(`${platforms.url}/robot/sendBySession`), now - 3_600_001),
    );
    assertEquals(old.status, 401);
    await old.body?.cancel();
    const elsewhere = await hub.handle("dingtalk", signed(message("https://evil.example/collect")));
    assertEquals(elsewhere.status, 200);
    await elsewhere.body?.cancel();
    const status = async (request: Request) => {
      const res = await hub.handle("dingtalk", request);
      await res.body?.cancel();
      return res.status;
    };
    assertEquals(await status(signed(message(`${platforms.url}/robot/sendBySession`))), 200);
    // The signature covers the timestamp alone: captured headers carrying another body are
    // refused, whether another event or the same one with another webhook.
    const replayed = message(`${platforms.url}/robot/sendBySession`, "m2", "transfer it all");
    assertEquals(await status(signed(replayed)), 401);
    assertEquals(await status(signed(message(`${platforms.url}/robot/elsewhere`))), 401);
    await hub.settle();
    assertEquals(platforms.calls.filter((c) => c.path === "/robot/elsewhere"), []);
    const sent = platforms.calls.filter((c) => c.path === "/robot/sendBySession");
    assertEquals(sent.map((c) => (c.body.text as { content: string }).content), ["ok hello"]);
    const failures = await guard.audit.list({ kind: "channel_auth_failure" });
    assert(failures.some((r) => JSON.stringify(r.data).includes("replay")), "not audited");
  } finally {
    await hub.close();
    await close();
  }
});

/** An adapter that takes any request as message `id` and whose API fails `failures` times. */
function flakyAdapter(failures: number) {
  const sent: string[] = [];
  let failed = 0;
  const adapter: ChannelAdapter = {
    name: "flaky",
    receive: (_request, raw) => {
      const id = new TextDecoder().decode(raw);
      return Promise.resolve({
        kind: "message",
        message: {
          channel: "flaky",
          userId: "u",
          chatId: "c",
          text: `message ${id}`,
          session: "u:flaky:c",
          deliveryId: id,
        },
      });
    },
    send: (_message, text) => {
      if (failed++ < failures) return Promise.reject(new Error("platform API down"));
      sent.push(text);
      return Promise.resolve();
    },
  };
  return { adapter, sent };
}

Deno.test("a reply the platform's API refuses is sent again; one never sent is audited and its delivery answered again; a delivery is remembered across restarts", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await channelGuard(store);
  const deliveries = await DeliveryLog.open(store);
  try {
    const deliver = (hub: ChannelHub, id: string) =>
      hub.handle("flaky", new Request("http://localhost/hook", { method: "POST", body: id }));
    // Two failures, then the API takes it: sent once, on the third try.
    const brief = flakyAdapter(2);
    const errors: unknown[] = [];
    let hub = new ChannelHub(
      guard,
      [brief.adapter],
      (input) => Promise.resolve(`re: ${input.text}`),
      { onError: (e) => errors.push(e), retryDelaysMs: [0, 0, 0], deliveries },
    );
    await deliver(hub, "1");
    await hub.close();
    assertEquals([brief.sent, errors.length], [["re: message 1"], 0]);
    // Delivered again after a restart (a new hub on the same store): not answered twice.
    hub = new ChannelHub(guard, [brief.adapter], (input) => Promise.resolve(`re: ${input.text}`), {
      deliveries,
    });
    await deliver(hub, "1");
    await hub.close();
    assertEquals(brief.sent, ["re: message 1"]);
    // Down for good: audited, and the platform's redelivery of the same event is answered.
    const down = flakyAdapter(4);
    hub = new ChannelHub(
      guard,
      [down.adapter],
      (input) => Promise.resolve(`re: ${input.text}`),
      { onError: (e) => errors.push(e), retryDelaysMs: [0, 0, 0], deliveries },
    );
    await deliver(hub, "2");
    await hub.settle();
    const failures = await guard.audit.list({ kind: "channel_reply_failure" });
    assertEquals(failures.map((f) => [f.session, f.data.error]), [[
      "u:flaky:c",
      "platform API down",
    ]]);
    assertEquals(errors.length, 1);
    await deliver(hub, "2");
    await hub.close();
    assertEquals(down.sent, ["re: message 2"]);
    // An empty answer is not sent as an empty message.
    const quiet = flakyAdapter(0);
    hub = new ChannelHub(guard, [quiet.adapter], () => Promise.resolve("  "));
    await deliver(hub, "3");
    await hub.close();
    assertEquals(quiet.sent, [NO_ANSWER]);
  } finally {
    await guard.close();
    await store.close();
  }
});

Deno.test("telegram: a reply longer than a message is sent in parts of at most 4,096 characters", async () => {
  // Sent whole, Telegram refused it, and the reply never reached the user.
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await channelGuard(store);
  const platforms = startFakePlatforms();
  const reply = Array.from({ length: 500 }, (_, i) => `line ${i}: the agent's long answer`)
    .join("\n");
  const hub = new ChannelHub(guard, [
    telegramChannel({ botToken: "123:abc", secretToken: "tg-secret", apiBase: platforms.url }),
  ], () => Promise.resolve(reply));
  try {
    const update = JSON.stringify({
      update_id: 9,
      message: { message_id: 70, from: { id: 4 }, chat: { id: 5 }, text: "tell me all" },
    });
    await hub.handle("telegram", post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update));
    await hub.settle();
    const sent = platforms.calls.filter((c) => c.path === "/bot123:abc/sendMessage");
    assert(sent.length >= 5, String(sent.length));
    assert(sent.every((c) => String(c.body.text).length <= 4096));
    assertEquals(sent.map((c) => c.body.text).join("\n"), reply);
    assertEquals(sent.map((c) => c.body.reply_parameters !== undefined), [
      true,
      ...sent.slice(1).map(() => false),
    ]);
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
});

/**
 * A Telegram Bot API that takes every `sendMessage` but refuses the `refused`-th call (counting
 * from 1) once, as Telegram does when a bot sends too fast: a 429 with `ok: false`.
 */
function refusingTelegram(refused: number) {
  const delivered: { text: string; replyTo: unknown }[] = [];
  let calls = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const body = await req.json();
    if (++calls === refused) {
      return Response.json({
        ok: false,
        error_code: 429,
        description: "Too Many Requests: retry after 1",
        parameters: { retry_after: 1 },
      }, { status: 429 });
    }
    delivered.push({ text: body.text, replyTo: body.reply_parameters?.message_id });
    return Response.json({
      ok: true,
      result: { message_id: 100 + calls, chat: { id: body.chat_id }, date: 1, text: body.text },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    delivered,
    calls: () => calls,
    close: () => server.shutdown(),
  };
}

Deno.test("telegram: a reply in parts whose second part is refused once goes on from that part; the user gets each part once, in order", async () => {
  // Retried whole, the reply sent part 1 a second time before parts 2 and 3.
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await channelGuard(store);
  const telegram = refusingTelegram(2);
  const parts = ["first", "second", "third"].map((name) => `${name} part: ${"x".repeat(3000)}`);
  const errors: unknown[] = [];
  const hub = new ChannelHub(
    guard,
    [
      telegramChannel({ botToken: "123:abc", secretToken: "tg-secret", apiBase: telegram.url }),
    ],
    () => Promise.resolve(parts.join("\n")),
    {
      onError: (e) => errors.push(e),
      retryDelaysMs: [0, 0, 0],
      // The second Telegram asks for is waited out in rate_limit_test.ts; here it is not waited.
      maxRetryWaitMs: 0,
    },
  );
  try {
    const update = JSON.stringify({
      update_id: 11,
      message: { message_id: 71, from: { id: 4 }, chat: { id: 5 }, text: "tell me all" },
    });
    await hub.handle("telegram", post({ "x-telegram-bot-api-secret-token": "tg-secret" }, update));
    await hub.settle();
    assertEquals(errors, []);
    // Names first: a failure shows which parts came, not 9,000 characters of them.
    assertEquals(telegram.delivered.map((d) => d.text.slice(0, d.text.indexOf(":"))), [
      "first part",
      "second part",
      "third part",
    ]);
    assertEquals(telegram.delivered.map((d) => d.text), parts);
    // The first part still answers the user's message, and only the first.
    assertEquals(telegram.delivered.map((d) => d.replyTo), [71, undefined, undefined]);
    assertEquals(telegram.calls(), 4);
  } finally {
    await hub.close();
    await guard.close();
    await telegram.close();
    await store.close();
  }
});

Deno.test("the fallback responders refuse a local-only message when their model is off this host", async () => {
  const { chatResponder, LOCAL_ONLY_REFUSAL } = await import("./hub.ts");
  const { chatStreamResponder } = await import("./webchat.ts");
  let reached = 0;
  const api = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => {
    reached++;
    return Response.json({ choices: [{ message: { content: "hi" } }] });
  });
  try {
    const remote = "https://models.example.com/v1";
    const text = "my card 4111 1111 1111 1111";
    assertEquals(
      await chatResponder(remote, "m")({ session: "s", text, localOnly: true }),
      LOCAL_ONLY_REFUSAL,
    );
    const streamed: string[] = [];
    for await (
      const d of chatStreamResponder(remote, "m")({ session: "s", text, localOnly: true })
    ) streamed.push(d);
    assertEquals(streamed, [LOCAL_ONLY_REFUSAL]);
    // On this host, local-only data goes to the model as before.
    const local = `http://127.0.0.1:${api.addr.port}/v1`;
    assertEquals(await chatResponder(local, "m")({ session: "s", text, localOnly: true }), "hi");
    assertEquals(reached, 1);
  } finally {
    await api.shutdown();
  }
});
