import { assert, assertEquals } from "@a3s/common/testing";
import { SafeclawConfigSchema } from "./config.ts";

const AES_KEY = "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus";

const dingtalk = (section: Record<string, unknown>) =>
  SafeclawConfigSchema.safeParse({ channels: { dingtalk: section } });

Deno.test("config: DingTalk takes an outgoing robot, an event subscription, or both", () => {
  const events = { token: "t", aesKey: AES_KEY, appKey: "dingapp" };
  for (
    const section of [{ appSecret: "s" }, { eventSubscription: events }, {
      appSecret: "s",
      eventSubscription: events,
    }]
  ) {
    const parsed = dingtalk(section);
    assert(parsed.success, JSON.stringify(parsed.error?.issues));
    assertEquals(parsed.data.channels.dingtalk, section);
  }
});

Deno.test("config: a DingTalk section with neither mode, or an event subscription missing a key, is refused", () => {
  const refused = (section: Record<string, unknown>) => !dingtalk(section).success;
  assert(refused({}));
  assert(refused({ apiBase: "https://oapi.dingtalk.com" }));
  assert(refused({ eventSubscription: { token: "t", aesKey: AES_KEY } }));
  assert(refused({ eventSubscription: { token: "t", aesKey: "short", appKey: "a" } }));
  assert(refused({ eventSubscription: { token: "", aesKey: AES_KEY, appKey: "a" } }));
});

Deno.test("config: a Telegram bot's username is optional and must be one", () => {
  const telegram = (botUsername?: string) =>
    SafeclawConfigSchema.safeParse({
      channels: { telegram: { botToken: "1:a", secretToken: "s", botUsername } },
    }).success;
  assert(telegram(undefined));
  assert(telegram("my_bot"));
  assert(!telegram("no spaces bot"));
});
