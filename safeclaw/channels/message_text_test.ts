/**
 * What reaches the model of a platform's message: mentions, files and captions, and where the
 * reply goes. Before, an `app_mention`, a file shared with a comment and a captioned photo were
 * dropped without a word, and the bot's own mention was passed on as part of the question.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { slackChannel, slackMessageText } from "./slack.ts";
import { telegramChannel, telegramMessageText } from "./telegram.ts";
import { feishuChannel, feishuMessageText } from "./feishu.ts";
import { feishuHeaders, feishuSeal, slackHeaders } from "./_test_signing.ts";
import type { ChannelAdapter, ChannelMessage } from "./types.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";

const NOW_SECONDS = 1_700_000_000;
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const FEISHU_KEY = "test-encrypt-key";

/** The message `adapter` makes of `request`, or undefined when it makes none. */
async function messageOf(
  adapter: ChannelAdapter,
  request: Request,
): Promise<ChannelMessage | undefined> {
  const result = await adapter.receive(request, new Uint8Array(await request.arrayBuffer()));
  assert(result.kind === "message" || result.kind === "ignored", JSON.stringify(result));
  return result.kind === "message" ? result.message : undefined;
}

const slack = slackChannel({ signingSecret: SLACK_SECRET, botToken: "x", now: () => NOW_SECONDS });

const slackRequest = (event: Record<string, unknown>) => {
  const body = JSON.stringify({
    type: "event_callback",
    event_id: "Ev1",
    authorizations: [{ user_id: "UBOT", is_bot: true }],
    event,
  });
  return new Request("http://localhost/hook", {
    method: "POST",
    body,
    headers: slackHeaders(SLACK_SECRET, NOW_SECONDS, body),
  });
};

Deno.test("slack: app_mention and a file shared with a comment are answered, the bot's mention taken out", async () => {
  const base = { user: "U1", channel: "C1", ts: "1.5" };
  const mention = await messageOf(
    slack,
    slackRequest({ ...base, type: "app_mention", text: "<@UBOT> what is up, <@U2>?" }),
  );
  assertEquals([mention?.text, mention?.deliveryId], ["what is up, <@U2>?", "C1/1.5"]);
  // The same message as a `message` event is the same delivery: it is answered once.
  const asMessage = await messageOf(
    slack,
    slackRequest({ ...base, type: "message", text: "<@UBOT> what is up, <@U2>?" }),
  );
  assertEquals([asMessage?.text, asMessage?.deliveryId], ["what is up, <@U2>?", "C1/1.5"]);
  const file = await messageOf(
    slack,
    slackRequest({ ...base, type: "message", subtype: "file_share", text: "summarize this" }),
  );
  assertEquals(file?.text, "summarize this");
  // A file without a comment, an edit and a bot's message have nothing to answer.
  for (
    const event of [
      { ...base, type: "message", subtype: "file_share", text: "" },
      { ...base, type: "message", subtype: "message_changed", text: "x" },
      { ...base, type: "message", bot_id: "B1", text: "x" },
      { ...base, type: "app_mention", text: "<@UBOT>" },
    ]
  ) {
    assertEquals(await messageOf(slack, slackRequest(event)), undefined, JSON.stringify(event));
  }
});

Deno.test("mention removal keeps the rest of the text as written", () => {
  assertEquals(
    slackMessageText("<@UBOT|bot>   indented\n  code", ["UBOT"], false),
    "indented\n  code",
  );
  assertEquals(slackMessageText("ask <@UBOT>", ["UBOT"], false), "ask");
  assertEquals(
    telegramMessageText("@my_bot   x", [{ type: "mention", offset: 0, length: 7 }]),
    "x",
  );
  // Someone else's mention, or one in the middle of the text, stays without a configured name.
  assertEquals(
    telegramMessageText("ask @alice", [{ type: "mention", offset: 4, length: 6 }]),
    "ask @alice",
  );
  assertEquals(
    telegramMessageText("hi @helper_bot and @my_bot", [
      { type: "mention", offset: 3, length: 11 },
      { type: "mention", offset: 19, length: 7 },
    ], "my_bot"),
    "hi @helper_bot and",
  );
  assertEquals(
    feishuMessageText("@_user_1 @_user_2 ask @_user_3 and @_user_9", [
      { key: "@_user_3", name: "Li Lei" },
    ]),
    "ask @Li Lei and @_user_9",
  );
});

Deno.test("telegram: a caption is the message's text; the bot's mention is taken out", async () => {
  const telegram = telegramChannel({ botToken: "1:a", secretToken: "s", botUsername: "my_bot" });
  const update = (message: Record<string, unknown>) =>
    new Request("http://localhost/hook", {
      method: "POST",
      headers: { "x-telegram-bot-api-secret-token": "s" },
      body: JSON.stringify({
        update_id: 1,
        message: { message_id: 1, from: { id: 42 }, chat: { id: -100 }, ...message },
      }),
    });
  const photo = await messageOf(
    telegram,
    update({
      photo: [{ file_id: "f" }],
      caption: "@my_bot what is this?",
      caption_entities: [{ type: "mention", offset: 0, length: 7 }],
    }),
  );
  assertEquals(photo?.text, "what is this?");
  const text = await messageOf(
    telegram,
    update({
      text: "@My_Bot what time is it",
      entities: [{ type: "mention", offset: 0, length: 7 }],
    }),
  );
  assertEquals(text?.text, "what time is it");
  assertEquals(await messageOf(telegram, update({ photo: [{ file_id: "f" }] })), undefined);
});

Deno.test("feishu: mention placeholders are resolved, and the reply goes to the message, in its thread", async () => {
  const platforms = startFakePlatforms();
  const feishu = feishuChannel({
    appId: "cli_a",
    appSecret: "sec",
    verificationToken: "vtok",
    encryptKey: FEISHU_KEY,
    apiBase: platforms.url,
    now: () => NOW_SECONDS * 1000,
  });
  const event = JSON.stringify({
    schema: "2.0",
    header: { event_id: "e1", event_type: "im.message.receive_v1", token: "vtok" },
    event: {
      sender: { sender_id: { open_id: "ou_1" }, sender_type: "user" },
      message: {
        chat_id: "oc_1",
        message_id: "om_7",
        thread_id: "omt_3",
        message_type: "text",
        content: JSON.stringify({ text: "@_user_1 ask @_user_2 about it" }),
        mentions: [{ key: "@_user_1", name: "Bot" }, { key: "@_user_2", name: "Han Meimei" }],
      },
    },
  });
  const body = feishuSeal(FEISHU_KEY, event);
  try {
    const message = await messageOf(
      feishu,
      new Request("http://localhost/hook", {
        method: "POST",
        body,
        headers: feishuHeaders(FEISHU_KEY, NOW_SECONDS, body, "n"),
      }),
    );
    assertEquals([message?.text, message?.threadId], ["ask @Han Meimei about it", "omt_3"]);
    await feishu.send(message!, "answer", { partsSent: 0 });
    const reply = platforms.calls.find((c) => c.path.endsWith("/reply"));
    assertEquals(reply?.path, "/open-apis/im/v1/messages/om_7/reply");
    assertEquals(reply?.body.reply_in_thread, true);
  } finally {
    await platforms.close();
  }
});
