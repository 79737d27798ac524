import { openChannelGuard } from "./_test_guard.ts";
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { ChannelHub } from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import {
  DINGTALK_WEBHOOK_MAX_MS,
  DINGTALK_WINDOW_MS,
  type DingtalkAdapter,
  dingtalkChannel,
  dingtalkEventReply,
} from "./dingtalk.ts";
import { dingtalkHeaders } from "./_test_signing.ts";
import { dingtalkPush, dingtalkReadAnswer } from "../testdata/fake_platforms.ts";
import type { ChannelMessage, ReplyProgress } from "./types.ts";

const NOW = 1_700_000_000_000;

/** A local DingTalk host whose session webhook answers each reply with `errcode()`. */
function dingtalkHost(errcode: () => number) {
  const bodies: unknown[] = [];
  const paths: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    paths.push(url.pathname + url.search);
    bodies.push(await req.json());
    const code = errcode();
    return Response.json({ errcode: code, errmsg: code ? "failed" : "ok" });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    bodies,
    paths,
    close: () => server.shutdown(),
  };
}

/** A robot's text message; `fields` replace or add to the documented ones. */
const robotMessage = (host: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    msgtype: "text",
    text: { content: " hello " },
    senderStaffId: "staff1",
    conversationId: "cid1",
    sessionWebhook: `${host}/robot/sendBySession?session=s1`,
    msgId: "m1",
    ...fields,
  });

/** `body` as DingTalk sends it at `ms`. */
const signed = (body: string, ms: number) =>
  new Request("http://localhost/dingtalk", {
    method: "POST",
    body,
    headers: dingtalkHeaders("ding-secret", ms),
  });

const receive = async (adapter: DingtalkAdapter, request: Request) =>
  await adapter.receive(request, new Uint8Array(await request.clone().arrayBuffer()));

const progress = (): ReplyProgress => ({ partsSent: 0 });

/** The message `body` read at `ms`. */
async function received(adapter: DingtalkAdapter, body: string, ms: number) {
  const result = await receive(adapter, signed(body, ms));
  assert(result.kind === "message", JSON.stringify(result));
  return result.message;
}

Deno.test("dingtalk: the timestamp may be an hour from now, as DingTalk documents, no more", async () => {
  const adapter = dingtalkChannel({
    appSecret: "ding-secret",
    apiBase: "http://127.0.0.1:9",
    now: () => NOW,
  });
  const body = robotMessage("http://127.0.0.1:9");
  assertEquals(DINGTALK_WINDOW_MS, 3_600_000);
  for (const offset of [-3_600_000, 3_600_000]) {
    assertEquals((await receive(adapter, signed(body, NOW + offset))).kind, "message");
  }
  for (const offset of [-3_600_001, 3_600_001, -3 * 86_400_000]) {
    assertEquals(await receive(adapter, signed(body, NOW + offset)), {
      kind: "unauthorized",
      reason: "request timestamp outside the 1-hour window (replay)",
    });
  }
});

Deno.test("dingtalk: replays of captured headers keep one session webhook, the first, whatever the body", async () => {
  const host = dingtalkHost(() => 0);
  const adapter = dingtalkChannel({ appSecret: "ding-secret", apiBase: host.url, now: () => NOW });
  try {
    const first = await received(adapter, robotMessage(host.url), NOW);
    for (let i = 0; i < 1_000; i++) await received(adapter, robotMessage(host.url), NOW);
    assertEquals(adapter.pendingReplies, 1);
    // The sign covers the timestamp alone: other bodies under the same headers (other msgIds,
    // other webhooks on the host) add nothing and redirect nothing.
    for (let i = 0; i < 1_000; i++) {
      const body = robotMessage(host.url, {
        msgId: `forged${i}`,
        sessionWebhook: `${host.url}/robot/sendBySession?session=other${i}`,
      });
      await received(adapter, body, NOW);
    }
    assertEquals(adapter.pendingReplies, 1);
    // Without msgId too.
    const body = robotMessage(host.url, { msgId: undefined });
    const anonymous = await received(adapter, body, NOW - 1);
    for (let i = 0; i < 1_000; i++) await received(adapter, body, NOW - 1);
    assertEquals(adapter.pendingReplies, 2);
    await adapter.send(first, "one", progress());
    await adapter.send(anonymous, "two", progress());
    assertEquals(adapter.pendingReplies, 0);
    assertEquals(host.paths, [
      "/robot/sendBySession?session=s1",
      "/robot/sendBySession?session=s1",
    ]);
  } finally {
    await host.close();
  }
});

Deno.test("dingtalk: a webhook is kept until its sessionWebhookExpiredTime, two hours at most", async () => {
  let clock = NOW;
  const host = dingtalkHost(() => 300001);
  const adapter = dingtalkChannel({
    appSecret: "ding-secret",
    apiBase: host.url,
    now: () => clock,
  });
  try {
    // A failed reply keeps the webhook for the hub's next try...
    const soon = await received(
      adapter,
      robotMessage(host.url, { msgId: "m1", sessionWebhookExpiredTime: NOW + 600_000 }),
      NOW,
    );
    await assertRejects(() => adapter.send(soon, "x", progress()), Error, "failed");
    assertEquals(adapter.pendingReplies, 1);
    // ...until it expires: then nothing is kept and no request goes out.
    clock = NOW + 600_000;
    await assertRejects(() => adapter.send(soon, "x", progress()), Error, "no session webhook");
    assertEquals([adapter.pendingReplies, host.bodies.length], [0, 1]);
    // A time far ahead (the field is not signed) or none: two hours.
    const far = await received(
      adapter,
      robotMessage(host.url, {
        msgId: "m2",
        sessionWebhookExpiredTime: String(clock + 86_400_000),
      }),
      clock,
    );
    const none = await received(adapter, robotMessage(host.url, { msgId: "m3" }), clock + 1);
    assertEquals(adapter.pendingReplies, 2);
    clock += DINGTALK_WEBHOOK_MAX_MS;
    for (const message of [far, none]) {
      await assertRejects(
        () => adapter.send(message, "x", progress()),
        Error,
        "no session webhook",
      );
    }
    assertEquals(adapter.pendingReplies, 0);
    // Already expired when it comes: never kept.
    const dead = await received(
      adapter,
      robotMessage(host.url, { msgId: "m4", sessionWebhookExpiredTime: clock - 1 }),
      clock,
    );
    assertEquals(adapter.pendingReplies, 0);
    await assertRejects(() => adapter.send(dead, "x", progress()), Error, "no session webhook");
  } finally {
    await host.close();
  }
});

Deno.test("dingtalk: the webhooks kept are capped", async () => {
  const host = dingtalkHost(() => 0);
  const adapter = dingtalkChannel({
    appSecret: "ding-secret",
    apiBase: host.url,
    now: () => NOW,
    maxPendingReplies: 4,
  });
  try {
    const messages: ChannelMessage[] = [];
    for (let i = 0; i < 40; i++) {
      messages.push(await received(adapter, robotMessage(host.url, { msgId: `m${i}` }), NOW + i));
    }
    assertEquals(adapter.pendingReplies, 4);
    await assertRejects(() => adapter.send(messages[0], "x", progress()), Error, "no session");
    await adapter.send(messages[39], "x", progress());
    assertEquals(adapter.pendingReplies, 3);
  } finally {
    await host.close();
  }
});

Deno.test("dingtalk: replays of a captured message without msgId through the hub add no webhook", async () => {
  const host = dingtalkHost(() => 0);
  const { store, guard } = await openChannelGuard();
  const adapter = dingtalkChannel({ appSecret: "ding-secret", apiBase: host.url, now: () => NOW });
  let runs = 0;
  const hub = new ChannelHub(guard, [adapter], () => {
    runs++;
    return Promise.resolve("ok");
  }, { deliveries: await DeliveryLog.open(store, () => NOW) });
  try {
    const captured = signed(robotMessage(host.url, { msgId: undefined }), NOW);
    const statuses = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const response = await hub.handle("dingtalk", captured.clone());
      statuses.add(response.status);
      await response.body?.cancel();
    }
    await hub.settle();
    // Byte-identical: each replay is acknowledged as a redelivery, never run again.
    assertEquals([...statuses], [200]);
    assertEquals(runs, 1);
    assertEquals(host.bodies.length, 1);
    assert(adapter.pendingReplies <= 1, `${adapter.pendingReplies} webhooks kept`);
  } finally {
    await hub.close();
    await guard.close();
    await host.close();
    await store.close();
  }
});

const EVENT_KEYS = {
  token: "ding-callback-token",
  aesKey: "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus",
  appKey: "dingappkey123",
};

Deno.test("dingtalk: the event subscription's check_url is answered with an encrypted success DingTalk accepts", async () => {
  const adapter = dingtalkChannel({ eventSubscription: EVENT_KEYS, now: () => NOW });
  const url = "http://localhost/safeclaw/v1/channels/dingtalk";
  for (const signatureName of ["msg_signature", "signature"]) {
    for (
      const event of [{ EventType: "check_url" }, { EventType: "user_add_org", UserId: ["u1"] }]
    ) {
      const result = await receive(
        adapter,
        dingtalkPush(url, EVENT_KEYS, event, { timestampMs: NOW, signatureName }),
      );
      assert(result.kind === "reply", JSON.stringify(result));
      assertEquals(await dingtalkReadAnswer(EVENT_KEYS, result.response), {
        ok: true,
        plaintext: "success",
      });
    }
  }
  // A push in seconds, as some of DingTalk's samples show, is read as seconds.
  const inSeconds = await receive(
    adapter,
    dingtalkPush(url, EVENT_KEYS, { EventType: "check_url" }, { timestampMs: NOW / 1000 }),
  );
  assertEquals(inSeconds.kind, "reply");
});

Deno.test("dingtalk: an event push not signed with the token, sealed for another app, stale or repeated is refused", async () => {
  const adapter = dingtalkChannel({ eventSubscription: EVENT_KEYS, now: () => NOW });
  const url = "http://localhost/hook";
  const check = { EventType: "check_url" };
  const refused = async (request: Request) => {
    const result = await receive(adapter, request);
    return result.kind === "unauthorized" ? result.reason : `not refused: ${result.kind}`;
  };
  assertEquals(
    await refused(dingtalkPush(url, EVENT_KEYS, check, { timestampMs: NOW, token: "other" })),
    "msg_signature does not match",
  );
  assertEquals(
    await refused(dingtalkPush(url, EVENT_KEYS, check, { timestampMs: NOW, sealedFor: "x" })),
    "sealed for another app",
  );
  assertEquals(
    await refused(
      dingtalkPush(url, EVENT_KEYS, check, { timestampMs: NOW - DINGTALK_WINDOW_MS - 1 }),
    ),
    "request timestamp outside the 1-hour window (replay)",
  );
  const push = dingtalkPush(url, EVENT_KEYS, check, { timestampMs: NOW });
  const twice = new URL(push.url);
  twice.searchParams.append("signature", "0".repeat(40));
  assertEquals(
    await refused(new Request(twice, { method: "POST", body: await push.clone().text() })),
    "missing or repeated signature parameters",
  );
  // The signature is checked before the ciphertext is opened.
  const garbage = new URL(push.url);
  const body = JSON.stringify({ encrypt: "AAAA" + "B".repeat(40) });
  assertEquals(
    await refused(new Request(garbage, { method: "POST", body })),
    "msg_signature does not match",
  );
  // A robot's callback where only the event push is configured, and the other way round.
  assertEquals(
    await refused(signed(robotMessage("https://oapi.dingtalk.com"), NOW)),
    "no outgoing robot is configured",
  );
  const robotOnly = dingtalkChannel({ appSecret: "ding-secret", now: () => NOW });
  const result = await receive(
    robotOnly,
    dingtalkPush(url, EVENT_KEYS, check, { timestampMs: NOW }),
  );
  assertEquals(result, { kind: "unauthorized", reason: "no event subscription is configured" });
});

Deno.test("dingtalkEventReply: what DingTalk's SDK produces, a fresh nonce each time", async () => {
  const a = dingtalkEventReply(EVENT_KEYS, "success", NOW);
  const b = dingtalkEventReply(EVENT_KEYS, "success", NOW);
  assertEquals(a.timeStamp, String(NOW));
  assert(a.nonce !== b.nonce && /^[A-Za-z0-9]{16}$/.test(a.nonce));
  assertEquals(await dingtalkReadAnswer(EVENT_KEYS, Response.json(a)), {
    ok: true,
    plaintext: "success",
  });
});
