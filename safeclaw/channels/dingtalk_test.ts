import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";
import { ChannelHub } from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import {
  DINGTALK_WEBHOOK_MAX_MS,
  DINGTALK_WINDOW_MS,
  type DingtalkAdapter,
  dingtalkChannel,
  dingtalkSign,
} from "./dingtalk.ts";
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
    headers: { timestamp: String(ms), sign: dingtalkSign("ding-secret", String(ms)) },
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
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "channel-test-key-0123456789",
    tee: { kind: null, device: null },
  });
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
    assertEquals([...statuses], [200, 401]);
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
