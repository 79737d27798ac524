import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";
import { ChannelHub, replyFailedNotice, type Responder } from "./hub.ts";
import { telegramChannel } from "./telegram.ts";
import { slackChannel } from "./slack.ts";
import { slackHeaders } from "./_test_signing.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";

const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW = 1_700_000_000;
const LEAK = "upstream rejected bob.jones@corp-internal.com with key AKIAQWERTYUIOPASDFGH";

async function withHub(
  responder: Responder,
  fn: (
    hub: ChannelHub,
    guard: Guard,
    platforms: ReturnType<typeof startFakePlatforms>,
    errors: unknown[],
  ) => Promise<void>,
) {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "hub-failure-test-key-0123456789",
    tee: { kind: null, device: null },
  });
  const platforms = startFakePlatforms();
  const errors: unknown[] = [];
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
    ],
    responder,
    { onError: (error) => errors.push(error) },
  );
  try {
    await fn(hub, guard, platforms, errors);
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
}

function telegramUpdate(id: number, chat: number, text: string): Request {
  return new Request("http://localhost/hook", {
    method: "POST",
    headers: { "x-telegram-bot-api-secret-token": "tg-secret" },
    body: JSON.stringify({
      update_id: id,
      message: { message_id: id, from: { id: chat }, chat: { id: chat }, text },
    }),
  });
}

Deno.test("a failed turn tells the user it failed; its error, redacted, is audited and logged", async () => {
  await withHub(() => Promise.reject(new Error(LEAK)), async (hub, guard, platforms, errors) => {
    assertEquals((await hub.handle("telegram", telegramUpdate(1, 42, "hello"))).status, 200);
    await hub.settle();
    const [record] = await guard.audit.list({ kind: "channel_reply_failure" });
    // Before, the raw error (an address and a key) was audited and logged, and the user got nothing.
    assertEquals(
      record.data.error,
      "upstream rejected [EMAIL] with key [SECRET]",
    );
    assertEquals(errors.map((e) => (e as Error).message), [record.data.error]);
    const sent = platforms.calls.filter((c) => c.path === "/bot123:abc/sendMessage");
    assertEquals(sent.map((c) => c.body.text), [replyFailedNotice(record.seq)]);
    const stats = await hub.stats();
    assertEquals(stats.lanes.prompt.dead, 0, "a failed reply's job is not dead-lettered");
  });
});

Deno.test("two slow chats do not hold up a third", async () => {
  const responder: Responder = async ({ text }) => {
    if (text.startsWith("slow")) await new Promise((resolve) => setTimeout(resolve, 1500));
    return `ok ${text}`;
  };
  await withHub(responder, async (hub, _guard, platforms) => {
    await hub.handle("telegram", telegramUpdate(1, 901, "slow one"));
    await hub.handle("telegram", telegramUpdate(2, 902, "slow two"));
    const start = Date.now();
    await hub.handle("telegram", telegramUpdate(3, 903, "quick"));
    while (!platforms.calls.some((c) => c.body.chat_id === 903)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Before, the `prompt` lane ran two jobs at once and the third chat waited 1.5 s.
    assert(Date.now() - start < 1000, `${Date.now() - start} ms`);
    await hub.settle();
  });
});

Deno.test("replies ask Telegram and Slack for no link preview", async () => {
  await withHub(
    () => Promise.resolve("see https://example.org/x"),
    async (hub, _guard, platforms) => {
      await hub.handle("telegram", telegramUpdate(1, 42, "hi"));
      const body = JSON.stringify({
        type: "event_callback",
        event_id: "Ev1",
        event: { type: "message", user: "U1", channel: "C1", text: "hi", ts: "1.0" },
      });
      const ts = String(NOW);
      await hub.handle(
        "slack",
        new Request("http://localhost/hook", {
          method: "POST",
          headers: slackHeaders(SLACK_SECRET, ts, body),
          body,
        }),
      );
      await hub.settle();
      const telegram = platforms.calls.find((c) => c.path === "/bot123:abc/sendMessage")!;
      assertEquals(telegram.body.link_preview_options, { is_disabled: true });
      const slack = platforms.calls.find((c) => c.path === "/chat.postMessage")!;
      assertEquals([slack.body.unfurl_links, slack.body.unfurl_media], [false, false]);
    },
  );
});

Deno.test("a failed WebChat reply is logged as a channel's is, redacted", async () => {
  await withHub(() => Promise.resolve("unused"), async (hub, guard, _platforms, errors) => {
    const seq = await hub.recordFailure("web1:webchat:1", "webchat", new Error(LEAK));
    const [record] = await guard.audit.list({ kind: "channel_reply_failure" });
    assertEquals(record.seq, seq);
    // Before, only the audit log heard of it: the operator's log showed nothing.
    assertEquals(errors.map((e) => (e as Error).message), [
      "upstream rejected [EMAIL] with key [SECRET]",
    ]);
  });
});

Deno.test("after a failed reply the same signed request, delivered again, is answered", async () => {
  let calls = 0;
  const responder: Responder = () =>
    ++calls === 1 ? Promise.reject(new Error("upstream down")) : Promise.resolve("answered");
  await withHub(responder, async (hub, _guard, platforms) => {
    const body = JSON.stringify({
      type: "event_callback",
      event_id: "EvRetry",
      event: { type: "message", user: "U1", channel: "C1", text: "hi", ts: "1.0" },
    });
    const ts = String(NOW);
    const deliver = () =>
      hub.handle(
        "slack",
        new Request("http://localhost/hook", {
          method: "POST",
          headers: slackHeaders(SLACK_SECRET, ts, body),
          body,
        }),
      );
    assertEquals((await deliver()).status, 200);
    await hub.settle();
    // Before, only the event id was let go: the signed body's key made this a "duplicate",
    // acknowledged and never answered.
    assertEquals((await deliver()).status, 200);
    await hub.settle();
    assertEquals(calls, 2);
    const posted = platforms.calls.filter((c) => c.path === "/chat.postMessage");
    assertEquals(posted.at(-1)?.body.text, "answered");
    // Answered, it is a duplicate again.
    assertEquals((await deliver()).status, 200);
    await hub.settle();
    assertEquals(calls, 2);
  });
});
