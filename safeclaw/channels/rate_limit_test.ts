import { openChannelGuard } from "./_test_guard.ts";
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { ChannelHub, type ChannelHubOptions } from "./hub.ts";
import type { ChannelAdapter, ChannelMessage } from "./types.ts";
import { PlatformRateLimited, RATE_WINDOW_MS, secondsToMs } from "./rate_limit.ts";
import { telegramChannel } from "./telegram.ts";
import { slackChannel } from "./slack.ts";
import { discordChannel } from "./discord.ts";
import { FEISHU_RATE_LIMITED, FEISHU_TOKEN_INVALID, feishuChannel } from "./feishu.ts";
import { WECOM_RATE_LIMITED, wecomChannel } from "./wecom.ts";
import { DINGTALK_RATE_LIMITED, dingtalkChannel } from "./dingtalk.ts";
import { dingtalkHeaders, discordHeaders, discordKeys } from "./_test_signing.ts";

/** One call to {@linkcode fakeApi}: when it came (ms, monotonic), its path and body. */
interface ApiCall {
  at: number;
  path: string;
  body: Record<string, unknown>;
}

/** A local platform API whose `answer` gives the response to each call (numbered from 1). */
function fakeApi(answer: (call: ApiCall, n: number) => Response) {
  const calls: ApiCall[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const call = {
      at: performance.now(),
      path: new URL(req.url).pathname,
      // WeCom's token is a GET.
      body: req.method === "GET" ? {} : await req.json() as Record<string, unknown>,
    };
    calls.push(call);
    return answer(call, calls.length);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls,
    close: () => server.shutdown(),
  };
}

/** Telegram's flood-control answer. */
const telegram429 = (seconds: number) =>
  Response.json({
    ok: false,
    error_code: 429,
    description: `Too Many Requests: retry after ${seconds}`,
    parameters: { retry_after: seconds },
  }, { status: 429 });

const telegramOk = () =>
  Response.json({ ok: true, result: { message_id: 1, chat: { id: 5 }, date: 1, text: "" } });

/** A hub for `adapter` on an in-memory store, its errors collected, answering `echo: <text>`. */
async function openHub(adapter: ChannelAdapter, options: ChannelHubOptions = {}) {
  const { store, guard } = await openChannelGuard();
  const errors: unknown[] = [];
  const hub = new ChannelHub(guard, [adapter], (input) => Promise.resolve(`echo: ${input.text}`), {
    onError: (e) => errors.push(e),
    ...options,
  });
  const close = async () => {
    await hub.close();
    await guard.close();
    await store.close();
  };
  return { hub, guard, errors, close };
}

/** Delivers one Telegram message `text` to `hub` and waits for its reply to be done. */
async function deliverTelegram(hub: ChannelHub, text: string): Promise<void> {
  await postTelegram(hub, { updateId: 21, messageId: 80, user: 4, chat: 5, text });
  await hub.settle();
}

/** Posts one signed Telegram update to `hub`, without waiting for its reply. */
async function postTelegram(
  hub: ChannelHub,
  m: { updateId: number; messageId: number; user: number; chat: number; text: string },
): Promise<void> {
  const ack = await hub.handle(
    "telegram",
    new Request("http://localhost/hook", {
      method: "POST",
      headers: { "x-telegram-bot-api-secret-token": "tg-secret" },
      body: JSON.stringify({
        update_id: m.updateId,
        message: {
          message_id: m.messageId,
          from: { id: m.user },
          chat: { id: m.chat },
          text: m.text,
        },
      }),
    }),
  );
  await ack.body?.cancel();
}

const telegramAt = (apiBase: string) =>
  telegramChannel({ botToken: "123:abc", secretToken: "tg-secret", apiBase });

Deno.test("secondsToMs: a platform's seconds, numbers or decimal text, rounded up to milliseconds", () => {
  assertEquals(
    [2, "2", 0.25, " 1.0001 ", 0, "0"].map(secondsToMs),
    [2000, 2000, 250, 1001, 0, 0],
  );
  assertEquals(
    [-1, "-1", "soon", "", "1e3", null, undefined, NaN, Infinity, {}].map(secondsToMs),
    Array(10).fill(undefined),
  );
});

Deno.test("telegram: a 429 asking for 1 s is waited out, not retried after 0.5 s; the reply arrives once", async () => {
  // Retried after the fixed 0.5 s, the send came inside Telegram's second and was refused again.
  const api = fakeApi((_call, n) => n === 1 ? telegram429(1) : telegramOk());
  const { hub, errors, close } = await openHub(telegramAt(api.url));
  try {
    await deliverTelegram(hub, "hello");
    assertEquals(errors, []);
    assertEquals(api.calls.length, 2);
    assertEquals(api.calls[1].body.text, "echo: hello");
    const waited = api.calls[1].at - api.calls[0].at;
    // At least Telegram's second, and not that second after the 0.5 s (nor the 2 s retry).
    assert(waited >= 990 && waited < 1400, `waited ${waited} ms`);
  } finally {
    await close();
    await api.close();
  }
});

Deno.test("telegram: a retry_after of 3600 is capped at maxRetryWaitMs", async () => {
  const api = fakeApi((_call, n) => n === 1 ? telegram429(3600) : telegramOk());
  const { hub, errors, close } = await openHub(telegramAt(api.url), {
    retryDelaysMs: [0, 0, 0],
    maxRetryWaitMs: 200,
  });
  try {
    await deliverTelegram(hub, "hello");
    assertEquals(errors, []);
    assertEquals(api.calls.map((c) => c.body.text), ["echo: hello", "echo: hello"]);
    const waited = api.calls[1].at - api.calls[0].at;
    assert(waited >= 190 && waited < 1000, `waited ${waited} ms`);
  } finally {
    await close();
    await api.close();
  }
});

Deno.test("an API that keeps asking for more time gets no more than the reply's retry budget; the failure is audited", async () => {
  const api = fakeApi(() => telegram429(3600));
  const { hub, guard, errors, close } = await openHub(telegramAt(api.url), {
    retryDelaysMs: [0, 0, 0, 0, 0],
    maxRetryWaitMs: 100,
    retryBudgetMs: 250,
  });
  try {
    const started = performance.now();
    await deliverTelegram(hub, "hello");
    // Two waits of 100 ms fit in 250 ms; a third would not, so the reply fails at once.
    assertEquals(api.calls.length, 3);
    assert(performance.now() - started < 1000);
    assertEquals(errors.length, 1);
    assert(errors[0] instanceof PlatformRateLimited);
    const failures = await guard.audit.list({ kind: "channel_reply_failure" });
    assertEquals(failures.map((f) => f.data.channel), ["telegram"]);
  } finally {
    await close();
    await api.close();
  }
});

Deno.test("a rate limit that says no time is retried after the fixed delays", async () => {
  const api = fakeApi((_call, n) =>
    n === 1
      ? Response.json({ ok: false, error_code: 429, description: "Too Many Requests" }, {
        status: 429,
      })
      : telegramOk()
  );
  const { hub, errors, close } = await openHub(telegramAt(api.url), {
    retryDelaysMs: [0, 0, 0],
  });
  try {
    await deliverTelegram(hub, "hello");
    assertEquals([errors, api.calls.length], [[], 2]);
    assert(api.calls[1].at - api.calls[0].at < 500);
  } finally {
    await close();
    await api.close();
  }
});

const progress = () => ({ partsSent: 0 });

Deno.test("slack: a 429 reports its Retry-After; one without it is a plain failure", async () => {
  const api = fakeApi((_call, n) =>
    new Response("", { status: 429, headers: n === 1 ? { "retry-after": "3" } : {} })
  );
  const slack = slackChannel({ signingSecret: "s", botToken: "xoxb-1", apiBase: api.url });
  const message: ChannelMessage = {
    channel: "slack",
    userId: "U1",
    chatId: "C1",
    text: "hi",
    session: "U1:slack:C1",
  };
  try {
    const limited = await assertRejects(
      () => slack.send(message, "hi", progress()),
      PlatformRateLimited,
    );
    assertEquals(limited.retryAfterMs, 3000);
    const plain = await assertRejects(() => slack.send(message, "hi", progress()), Error);
    assert(!(plain instanceof PlatformRateLimited));
  } finally {
    await api.close();
  }
});

Deno.test("discord: a 429 reports the body's fractional retry_after, else the Retry-After header", async () => {
  const api = fakeApi((_call, n) =>
    n === 1
      ? Response.json(
        { message: "You are being rate limited.", retry_after: 0.25, global: false },
        {
          status: 429,
          headers: { "retry-after": "1" },
        },
      )
      : new Response("<html>slow down</html>", { status: 429, headers: { "retry-after": "2" } })
  );
  const keys = await discordKeys();
  const discord = discordChannel({
    publicKey: keys.publicKey,
    applicationId: "app1",
    apiBase: api.url,
    now: () => 1_700_000_000_000,
  });
  const body = JSON.stringify({
    type: 2,
    token: "itok",
    channel_id: "ch9",
    member: { user: { id: "u7" } },
    data: { name: "ask", options: [{ name: "text", value: "hi" }] },
  });
  const raw = new TextEncoder().encode(body);
  try {
    const received = await discord.receive(
      new Request("http://localhost/hook", {
        method: "POST",
        headers: await discordHeaders(keys.privateKey, "1700000000", body),
        body,
      }),
      raw,
    );
    assert(received.kind === "message");
    const send = () => discord.send(received.message, "answer", progress());
    assertEquals((await assertRejects(send, PlatformRateLimited)).retryAfterMs, 250);
    assertEquals((await assertRejects(send, PlatformRateLimited)).retryAfterMs, 2000);
  } finally {
    await api.close();
  }
});

/** A Feishu adapter replying through the API at `apiBase`. */
const feishuAt = (apiBase: string) =>
  feishuChannel({
    appId: "cli_a",
    appSecret: "sec",
    verificationToken: "vtok",
    encryptKey: "k",
    apiBase,
  });

const FEISHU_MESSAGE: ChannelMessage = {
  channel: "feishu",
  userId: "ou_1",
  chatId: "oc_1",
  text: "hi",
  session: "ou_1:feishu:oc_1",
};

Deno.test("feishu: code 99991400 reports x-ogw-ratelimit-reset; other codes are plain failures", async () => {
  const api = fakeApi((call, n) => {
    if (call.path.endsWith("/tenant_access_token/internal")) {
      return Response.json({ code: 0, msg: "ok", tenant_access_token: "t-feishu", expire: 7200 });
    }
    return n === 2
      ? Response.json({ code: FEISHU_RATE_LIMITED, msg: "request trigger frequency limit" }, {
        status: 429,
        headers: { "x-ogw-ratelimit-limit": "100", "x-ogw-ratelimit-reset": "52" },
      })
      : Response.json({ code: 230001, msg: "invalid receive_id" }, { status: 400 });
  });
  const feishu = feishuAt(api.url);
  try {
    const send = () => feishu.send(FEISHU_MESSAGE, "answer", progress());
    assertEquals((await assertRejects(send, PlatformRateLimited)).retryAfterMs, 52_000);
    assert(!((await assertRejects(send, Error)) instanceof PlatformRateLimited));
  } finally {
    await api.close();
  }
});

Deno.test("feishu: a tenant token refused before its time is fetched anew by the next try", async () => {
  let tokens = 0;
  const api = fakeApi((call, n) => {
    if (call.path.endsWith("/tenant_access_token/internal")) {
      return Response.json({
        code: 0,
        msg: "ok",
        tenant_access_token: `t-${++tokens}`,
        expire: 7200,
      });
    }
    return n === 2
      ? Response.json({ code: FEISHU_TOKEN_INVALID, msg: "Invalid access token" }, { status: 400 })
      : Response.json({ code: 0, msg: "ok", data: {} });
  });
  const feishu = feishuAt(api.url);
  try {
    await assertRejects(() => feishu.send(FEISHU_MESSAGE, "answer", progress()), Error, "Invalid");
    await feishu.send(FEISHU_MESSAGE, "answer", progress());
    assertEquals(tokens, 2, "the refused token was used again");
  } finally {
    await api.close();
  }
});

Deno.test("wecom: an expired token is fetched anew; errcode 45009 asks for a minute's wait", async () => {
  let tokens = 0;
  const api = fakeApi((call, n) => {
    if (call.path.endsWith("/gettoken")) {
      return Response.json({ errcode: 0, access_token: `w-${++tokens}`, expires_in: 7200 });
    }
    if (n === 2) return Response.json({ errcode: 42001, errmsg: "access_token expired" });
    if (n === 4) {
      return Response.json({ errcode: WECOM_RATE_LIMITED, errmsg: "api freq out of limit" });
    }
    return Response.json({ errcode: 0, errmsg: "ok" });
  });
  const wecom = wecomChannel({
    corpId: "wwcorp",
    corpSecret: "sec",
    agentId: 1000002,
    token: "tok",
    encodingAesKey: "a".repeat(43),
    apiBase: api.url,
  });
  const message: ChannelMessage = {
    channel: "wecom",
    userId: "zhangsan",
    chatId: "1000002",
    text: "hi",
    session: "zhangsan:wecom:1000002",
  };
  try {
    const send = () => wecom.send(message, "answer", progress());
    assert(!((await assertRejects(send, Error, "expired")) instanceof PlatformRateLimited));
    assertEquals((await assertRejects(send, PlatformRateLimited)).retryAfterMs, RATE_WINDOW_MS);
    assertEquals(tokens, 2, "the expired token was used again");
    await send();
  } finally {
    await api.close();
  }
});

Deno.test("dingtalk: errcode 130101 (over 20 a minute) asks for a minute's wait", async () => {
  const api = fakeApi((_call, n) =>
    n === 1
      ? Response.json({ errcode: DINGTALK_RATE_LIMITED, errmsg: "send too fast" })
      : Response.json({ errcode: 0, errmsg: "ok" })
  );
  const now = 1_700_000_000_000;
  const dingtalk = dingtalkChannel({ appSecret: "ding-secret", apiBase: api.url, now: () => now });
  const body = JSON.stringify({
    msgtype: "text",
    text: { content: "hello" },
    senderStaffId: "staff1",
    conversationId: "cid1",
    sessionWebhook: `${api.url}/robot/sendBySession`,
    msgId: "m1",
  });
  const received = await dingtalk.receive(
    new Request("http://localhost/hook", {
      method: "POST",
      body,
      headers: dingtalkHeaders("ding-secret", now),
    }),
    new TextEncoder().encode(body),
  );
  assert(received.kind === "message");
  try {
    const send = () => dingtalk.send(received.message, "answer", progress());
    assertEquals((await assertRejects(send, PlatformRateLimited)).retryAfterMs, RATE_WINDOW_MS);
    await send();
    assertEquals(api.calls.length, 2);
  } finally {
    await api.close();
  }
});

Deno.test("a long reply slowed part by part still arrives: a part that gets through restarts the retry count", async () => {
  // Every part after the first is refused once: four failures, one more than the three retries,
  // but each retry gets a part through.
  const api = fakeApi((_call, n) => n % 2 === 1 ? telegramOk() : telegram429(0));
  const { hub, errors, close } = await openHub(telegramAt(api.url), { retryDelaysMs: [0, 0, 0] });
  try {
    await deliverTelegram(hub, "x".repeat(4 * 4096 + 100));
    assertEquals(errors, []);
    const accepted = api.calls.filter((_call, i) => i % 2 === 0).map((c) => String(c.body.text));
    assertEquals(accepted.length, 5);
    assertEquals(accepted.join(""), "echo: " + "x".repeat(4 * 4096 + 100));
  } finally {
    await close();
    await api.close();
  }
});

Deno.test("a reply being retried is not overtaken by the answer to the chat's next message", async () => {
  const api = fakeApi((_call, n) => n === 1 ? telegram429(0) : telegramOk());
  const { hub, errors, close } = await openHub(telegramAt(api.url), { retryDelaysMs: [300] });
  try {
    for (const [id, text] of [[31, "first"], [32, "second"]] as const) {
      await postTelegram(hub, { updateId: id, messageId: id, user: 4, chat: 5, text });
    }
    await hub.settle();
    assertEquals(errors, []);
    assertEquals(api.calls.map((c) => c.body.text), ["echo: first", "echo: first", "echo: second"]);
  } finally {
    await close();
    await api.close();
  }
});

Deno.test("a reply waiting out its retries holds no other chat's turn", async () => {
  // Eight chats (the hub's lane runs eight turns at once) whose first replies are refused, then a
  // ninth chat: its answer goes out while the eight wait, not after them.
  const refused = new Set<unknown>();
  const api = fakeApi((call) => {
    const chat = call.body.chat_id;
    if (chat !== 9 && !refused.has(chat)) {
      refused.add(chat);
      return telegram429(0);
    }
    return telegramOk();
  });
  const { hub, errors, close } = await openHub(telegramAt(api.url), { retryDelaysMs: [400] });
  try {
    for (let chat = 1; chat <= 9; chat++) {
      await postTelegram(hub, {
        updateId: 100 + chat,
        messageId: chat,
        user: chat,
        chat,
        text: `hi ${chat}`,
      });
    }
    await hub.settle();
    assertEquals(errors, []);
    const ninth = api.calls.findIndex((c) => c.body.chat_id === 9);
    const firstRetry = api.calls.findIndex((c, i) =>
      i > 0 && refused.has(c.body.chat_id) &&
      api.calls.slice(0, i).some((earlier) => earlier.body.chat_id === c.body.chat_id)
    );
    assert(
      ninth >= 0 && ninth < firstRetry,
      `ninth chat's reply was call ${ninth}, first retry ${firstRetry}`,
    );
    assertEquals(api.calls.length, 17);
  } finally {
    await close();
    await api.close();
  }
});
