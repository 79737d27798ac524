import { openChannelGuard } from "./_test_guard.ts";
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { ChannelHub } from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import {
  commandText,
  DISCORD_NO_TEXT,
  DISCORD_TOKEN_TTL_MS,
  DISCORD_UNSUPPORTED,
  type DiscordAdapter,
  discordChannel,
} from "./discord.ts";
import type { ChannelMessage, ReplyProgress } from "./types.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";
import { discordHeaders, discordKeys } from "./_test_signing.ts";
import { assertReplayRefusedAfterPrune } from "./_replay_after_prune.ts";

const NOW = 1_700_000_000_000;

/** A key pair, and requests signed with it at a timestamp in seconds. */
async function signer() {
  const { publicKey, privateKey } = await discordKeys();
  const signed = async (body: string, seconds: number) =>
    new Request("http://localhost/interactions", {
      method: "POST",
      body,
      headers: await discordHeaders(privateKey, seconds, body),
    });
  return { publicKey, signed };
}

const command = (id: string | undefined, token: string, text = "what is 2+2?") =>
  JSON.stringify({
    id,
    type: 2,
    token,
    channel_id: "ch9",
    member: { user: { id: "u7" } },
    data: { name: "ask", options: [{ name: "text", value: text }] },
  });

const receive = async (adapter: DiscordAdapter, request: Request) =>
  await adapter.receive(request, new Uint8Array(await request.clone().arrayBuffer()));

const progress = (): ReplyProgress => ({ partsSent: 0 });

/** A local Discord API that answers each follow-up with `status` (200 with the message). */
function discordApi(status: () => number) {
  const paths: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    paths.push(new URL(req.url).pathname);
    await req.body?.cancel();
    const code = status();
    return code === 200
      ? Response.json({ id: "1", content: "ok" })
      : Response.json({ message: "Unknown Webhook", code: 10015 }, { status: code });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, paths, close: () => server.shutdown() };
}

Deno.test("discord: a timestamp more than five minutes from now is refused, PINGs included", async () => {
  const { publicKey, signed } = await signer();
  const discord = discordChannel({ publicKey, applicationId: "app1", now: () => NOW });
  const seconds = NOW / 1000;
  for (const offset of [-300, 0, 300]) {
    const fresh = await receive(discord, await signed(command("i1", "tok"), seconds + offset));
    assertEquals(fresh.kind, "message", `offset ${offset}`);
  }
  for (const offset of [-301, 301, -3 * 86_400]) {
    for (const body of [command("i1", "tok"), '{"type":1}']) {
      const stale = await receive(discord, await signed(body, seconds + offset));
      assertEquals(stale, {
        kind: "unauthorized",
        reason: "request timestamp outside the 5-minute window (replay)",
      });
    }
  }
  // Discord's PING, signed when sent, is answered.
  const ping = await receive(discord, await signed('{"type":1}', seconds - 2));
  assert(ping.kind === "reply");
  assertEquals(await ping.response.json(), { type: 1 });
  // The window is the adapter's option.
  const wide = discordChannel({
    publicKey,
    applicationId: "app1",
    now: () => NOW,
    replayWindowMs: 600_000,
  });
  assertEquals((await receive(wide, await signed('{"type":1}', seconds - 599))).kind, "reply");
});

Deno.test("discord: a captured interaction is refused once the delivery memory forgot it, and audited", async () => {
  const { publicKey, signed } = await signer();
  await assertReplayRefusedAfterPrune({
    channel: "discord",
    start: NOW,
    adapter: (now, apiBase) => discordChannel({ publicKey, applicationId: "app1", apiBase, now }),
    captured: await signed(command("i1", "tok"), NOW / 1000),
    replyPath: "/webhooks/app1/tok",
    reason: "request timestamp outside the 5-minute window (replay)",
  });
});

Deno.test("discord: duplicate deliveries of an interaction keep one token, the first", async () => {
  const { publicKey, signed } = await signer();
  const platforms = startFakePlatforms();
  const discord = discordChannel({
    publicKey,
    applicationId: "app1",
    apiBase: platforms.url,
    now: () => NOW,
  });
  try {
    const captured = await signed(command("i1", "tok-1"), NOW / 1000);
    let message: ChannelMessage | undefined;
    for (let i = 0; i < 2_000; i++) {
      const result = await receive(discord, captured);
      assert(result.kind === "message");
      message ??= result.message;
      assertEquals(result.message.messageId, "i1");
    }
    // Another token under the same id does not replace the first.
    assertEquals(
      (await receive(discord, await signed(command("i1", "tok-2"), NOW / 1000))).kind,
      "message",
    );
    assertEquals(discord.pendingReplies, 1);
    await discord.send(message!, "4", progress());
    assertEquals(platforms.calls.map((c) => c.path), ["/webhooks/app1/tok-1"]);
    assertEquals(discord.pendingReplies, 0);
  } finally {
    await platforms.close();
  }
});

Deno.test("discord: a token is dropped after its 15 minutes, and at once when Discord says it is gone", async () => {
  const { publicKey, signed } = await signer();
  let clock = NOW;
  let status = 500;
  const api = discordApi(() => status);
  const discord = discordChannel({
    publicKey,
    applicationId: "app1",
    apiBase: api.url,
    now: () => clock,
  });
  const message = async (id: string) => {
    const result = await receive(discord, await signed(command(id, `tok-${id}`), clock / 1000));
    assert(result.kind === "message");
    return result.message;
  };
  try {
    // A server error may pass: the token stays for the hub's next try...
    const failing = await message("i1");
    await assertRejects(() => discord.send(failing, "4", progress()), Error, "500");
    assertEquals(discord.pendingReplies, 1);
    // ...until Discord no longer takes it; then the reply fails at once, and nothing is kept.
    clock += DISCORD_TOKEN_TTL_MS;
    await assertRejects(
      () => discord.send(failing, "4", progress()),
      Error,
      "no interaction token",
    );
    assertEquals(discord.pendingReplies, 0);
    assertEquals(api.paths.length, 1);
    // Unknown webhook (an expired or revoked token): dropped on the first answer.
    status = 404;
    const gone = await message("i2");
    assertEquals(discord.pendingReplies, 1);
    await assertRejects(() => discord.send(gone, "4", progress()), Error, "404");
    assertEquals(discord.pendingReplies, 0);
    // Tokens whose replies never came are dropped as new interactions arrive.
    status = 500;
    for (const id of ["i3", "i4", "i5"]) await message(id);
    clock += DISCORD_TOKEN_TTL_MS;
    await message("i6");
    assertEquals(discord.pendingReplies, 1);
  } finally {
    await api.close();
  }
});

Deno.test("discord: the tokens kept are capped; an interaction without an id still gets a reply", async () => {
  const { publicKey, signed } = await signer();
  const platforms = startFakePlatforms();
  const discord = discordChannel({
    publicKey,
    applicationId: "app1",
    apiBase: platforms.url,
    now: () => NOW,
    maxPendingReplies: 5,
  });
  try {
    const messages: ChannelMessage[] = [];
    for (let i = 0; i < 50; i++) {
      const result = await receive(discord, await signed(command(`i${i}`, `tok${i}`), NOW / 1000));
      assert(result.kind === "message");
      messages.push(result.message);
    }
    assertEquals(discord.pendingReplies, 5);
    await assertRejects(() => discord.send(messages[0], "x", progress()), Error, "no interaction");
    await discord.send(messages[49], "x", progress());
    assertEquals(discord.pendingReplies, 4);
    const anonymous = await receive(discord, await signed(command(undefined, "tok-x"), NOW / 1000));
    assert(anonymous.kind === "message");
    assertEquals(anonymous.message.deliveryId, undefined);
    await discord.send(anonymous.message, "y", progress());
    assertEquals(platforms.calls.map((c) => c.path), [
      "/webhooks/app1/tok49",
      "/webhooks/app1/tok-x",
    ]);
  } finally {
    await platforms.close();
  }
});

Deno.test("discord: 2,000 replays of one captured interaction through the hub hold one token", async () => {
  const { publicKey, signed } = await signer();
  const { store, guard } = await openChannelGuard();
  const platforms = startFakePlatforms();
  const discord = discordChannel({
    publicKey,
    applicationId: "app1",
    apiBase: platforms.url,
    now: () => NOW,
  });
  let runs = 0;
  const hub = new ChannelHub(guard, [discord], () => {
    runs++;
    return Promise.resolve("ok");
  }, { deliveries: await DeliveryLog.open(store, () => NOW) });
  try {
    const captured = await signed(command("i1", "t".repeat(4000)), NOW / 1000);
    for (let i = 0; i < 2_000; i++) {
      const response = await hub.handle("discord", captured.clone());
      assertEquals(response.status, 200);
      await response.body?.cancel();
    }
    await hub.settle();
    assertEquals(runs, 1);
    assert(discord.pendingReplies <= 1, `${discord.pendingReplies} tokens kept`);
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
});

Deno.test("discord: every verified interaction gets an interaction response; subcommands' options are read", async () => {
  const { publicKey, signed } = await signer();
  const { store, guard } = await openChannelGuard();
  const platforms = startFakePlatforms();
  const seen: string[] = [];
  const hub = new ChannelHub(
    guard,
    [discordChannel({ publicKey, applicationId: "app1", apiBase: platforms.url, now: () => NOW })],
    (input) => {
      seen.push(input.text);
      return Promise.resolve("ok");
    },
  );
  const answer = async (interaction: Record<string, unknown>) => {
    const base = { token: "tok", channel_id: "ch9", member: { user: { id: "u7" } } };
    const response = await hub.handle(
      "discord",
      await signed(JSON.stringify({ ...base, ...interaction }), NOW / 1000),
    );
    assertEquals(response.status, 200);
    return await response.json();
  };
  const ephemeral = (content: string) => ({ type: 4, data: { content, flags: 64 } });
  try {
    assertEquals(await answer({ id: "1", type: 1 }), { type: 1 });
    // `/help`: a command with no text to answer.
    assertEquals(
      await answer({ id: "2", type: 2, data: { name: "help" } }),
      ephemeral(DISCORD_NO_TEXT),
    );
    // `/ai ask q: …`: a subcommand (type 1) holding the string option, in a group (type 2).
    const nested = {
      name: "ai",
      options: [{
        name: "chat",
        type: 2,
        options: [{ name: "ask", type: 1, options: [{ name: "q", type: 3, value: "why?" }] }],
      }],
    };
    assertEquals(await answer({ id: "3", type: 2, data: nested }), { type: 5 });
    assertEquals(
      await answer({ id: "4", type: 3, data: { custom_id: "b1", component_type: 2 } }),
      ephemeral(DISCORD_UNSUPPORTED),
    );
    assertEquals(
      await answer({ id: "5", type: 4, data: { name: "ask", options: [] } }),
      { type: 8, data: { choices: [] } },
    );
    assertEquals(
      await answer({ id: "6", type: 5, data: { custom_id: "m1", components: [] } }),
      ephemeral(DISCORD_UNSUPPORTED),
    );
    // A redelivered command is acknowledged as the first was, with a deferral, not `{ok:true}`.
    assertEquals(await answer({ id: "3", type: 2, data: nested }), { type: 5 });
    await hub.settle();
    assertEquals(seen, ["why?"]);
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
});

Deno.test("commandText: string options in order, through two levels of subcommands, no deeper", () => {
  assertEquals(
    commandText([{ type: 3, value: "a" }, { type: 4, value: 2 }, { type: 3, value: "b" }]),
    "a\nb",
  );
  const deep = (depth: number): unknown =>
    depth === 0 ? { type: 3, value: "deep" } : { type: 1, options: [deep(depth - 1)] };
  assertEquals(commandText([deep(2)]), "deep");
  assertEquals(commandText([deep(3)]), "");
  assertEquals(commandText([null, 7, { type: "x" }]), "");
});
