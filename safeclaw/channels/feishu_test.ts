import { assert, assertEquals } from "@a3s/common/testing";
import { FEISHU_EVENT_MAX_AGE_MS, feishuChannel, feishuSignature } from "./feishu.ts";
import { feishuHeaders, feishuSeal } from "./_test_signing.ts";
import type { ChannelAdapter } from "./types.ts";
import { assertReplayRefusedAfterPrune } from "./_replay_after_prune.ts";

const NOW = 1_700_000_000_000;
const ENCRYPT_KEY = "test-encrypt-key";
const STALE = "request timestamp outside the 5-minute window (replay)";

/** An event sealed under the Encrypt Key, as Feishu sends it. */
const seal = (value: unknown) => feishuSeal(ENCRYPT_KEY, value);

/** A text message event of `event_id` created at `createTime` (ms). */
const message = (eventId: string, createTime: number | undefined = NOW) =>
  seal({
    schema: "2.0",
    header: {
      event_id: eventId,
      event_type: "im.message.receive_v1",
      token: "vtok",
      create_time: createTime === undefined ? undefined : String(createTime),
    },
    event: {
      sender: { sender_id: { open_id: "ou_1" }, sender_type: "user" },
      message: {
        chat_id: "oc_1",
        message_id: "om_1",
        message_type: "text",
        content: '{"text":"delete the build folder"}',
      },
    },
  });

/** `body` pushed at `seconds`, signed; no headers at all when `seconds` is undefined. */
const pushed = (body: string, seconds?: number) =>
  new Request("http://localhost/feishu", {
    method: "POST",
    body,
    headers: seconds === undefined ? {} : feishuHeaders(ENCRYPT_KEY, seconds, body),
  });

const feishu = (now: () => number, apiBase?: string) =>
  feishuChannel({
    appId: "cli_a",
    appSecret: "sec",
    verificationToken: "vtok",
    encryptKey: ENCRYPT_KEY,
    apiBase,
    now,
  });

const receive = async (adapter: ChannelAdapter, request: Request) =>
  await adapter.receive(request, new Uint8Array(await request.arrayBuffer()));

Deno.test("feishu: an X-Lark-Request-Timestamp more than five minutes from now is refused", async () => {
  const adapter = feishu(() => NOW);
  const seconds = NOW / 1000;
  for (const offset of [-300, 0, 300]) {
    const fresh = await receive(adapter, pushed(message("ev-1"), seconds + offset));
    assertEquals(fresh.kind, "message", `offset ${offset}`);
  }
  for (const offset of [-301, 301, -3 * 86_400]) {
    assertEquals(await receive(adapter, pushed(message("ev-1"), seconds + offset)), {
      kind: "unauthorized",
      reason: STALE,
    });
  }
  // Signed without a timestamp: nothing says when it was sent.
  const body = message("ev-1");
  const bare = new Request("http://localhost/feishu", {
    method: "POST",
    body,
    headers: {
      "x-lark-request-nonce": "n1",
      "x-lark-signature": feishuSignature("", "n1", ENCRYPT_KEY, body),
    },
  });
  assertEquals(await receive(adapter, bare), {
    kind: "unauthorized",
    reason: "missing or malformed request timestamp",
  });
});

Deno.test("feishu: an event's create_time may be as old as Feishu's retries, no older", async () => {
  const adapter = feishu(() => NOW);
  const seconds = NOW / 1000;
  // Feishu's last retry comes about seven hours after the event, signed when it is sent.
  const retried = await receive(adapter, pushed(message("ev-1", NOW - 7 * 3_600_000), seconds));
  assertEquals(retried.kind, "message");
  assertEquals(
    (await receive(adapter, pushed(message("ev-2", undefined), seconds))).kind,
    "message",
  );
  const reason = "event create_time outside the 12-hour window (replay)";
  assertEquals(
    await receive(adapter, pushed(message("ev-3", NOW - FEISHU_EVENT_MAX_AGE_MS - 1), seconds)),
    { kind: "unauthorized", reason },
  );
  assertEquals(
    await receive(adapter, pushed(message("ev-4", NOW + 301_000), seconds)),
    { kind: "unauthorized", reason },
  );
});

Deno.test("feishu: the URL check is answered whatever its timestamp (Feishu does not sign it)", async () => {
  const adapter = feishu(() => NOW);
  const check = seal({ challenge: "ch-1", token: "vtok", type: "url_verification" });
  for (
    const request of [pushed(check), pushed(check, NOW / 1000 - 86_400), pushed(check, NOW / 1000)]
  ) {
    const result = await receive(adapter, request);
    assert(result.kind === "reply");
    assertEquals(await result.response.json(), { challenge: "ch-1" });
  }
  // Still only with the verification token.
  const forged = seal({ challenge: "ch-1", token: "other", type: "url_verification" });
  assertEquals((await receive(adapter, pushed(forged))).kind, "unauthorized");
});

Deno.test("feishu: a captured event replayed after the delivery memory is pruned is refused and audited", async () => {
  await assertReplayRefusedAfterPrune({
    channel: "feishu",
    start: NOW + 30_000,
    adapter: feishu,
    captured: pushed(message("ev-1"), NOW / 1000),
    replyPath: "/open-apis/im/v1/messages/om_1/reply",
    reason: STALE,
  });
});
