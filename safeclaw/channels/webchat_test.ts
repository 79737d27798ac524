import { assert, assertEquals, testDir } from "@a3s/common/testing";
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { safeclawModule } from "../mod.ts";
import { startFakeOpenAi } from "../testdata/fake_openai.ts";
import { chatStreamResponder, webchatSocket } from "./webchat.ts";
import { openStore } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";
import { ChannelHub, CHAT_TURN_KIND } from "./hub.ts";
import { laneModule } from "@a3s/lane/routes";

async function withWebchat(
  fn: (server: RunningServer) => Promise<void>,
  options: { lane?: boolean } = {},
) {
  const upstream = startFakeOpenAi("power");
  const server = await startServer({
    config: {
      ...loadConfig({ flags: { port: 0, home: await testDir() }, env: {} }),
      safeclaw: { proxy: { localUpstream: upstream.url } },
      security: { tokens: [{ token: LANE_READER, scopes: ["lane:read"] }] },
    } as ReturnType<typeof loadConfig>,
    modules: options.lane
      ? [laneModule({ events: false }), safeclawModule({ events: false, lane: true })]
      : [safeclawModule({ events: false })],
    logger: createLogger("silent"),
  });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
    await upstream.close();
  }
}

const LANE_READER = "webchat-lane-reader-0123456789abcdef";

/** The text of WebChat's reply to `text`, sent as user `user` on a new socket. */
async function chat(server: RunningServer, user: string, text: string): Promise<string> {
  const url = new URL(`/safeclaw/v1/webchat/ws?user=${user}`, server.url);
  url.protocol = "ws:";
  const ws = new WebSocket(url);
  let reply = "";
  const done = new Promise<void>((resolve, reject) => {
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "delta") reply += msg.text;
      if (msg.type === "error") reject(new Error(msg.message));
      if (msg.type === "done") resolve();
    };
    ws.onerror = () => reject(new Error("socket error"));
  });
  await new Promise((resolve) => (ws.onopen = resolve));
  ws.send(JSON.stringify({ type: "message", text }));
  try {
    await done;
  } finally {
    const closed = new Promise((resolve) => (ws.onclose = resolve));
    ws.close();
    await closed;
  }
  return reply;
}

Deno.test("WebChat under serve with lane: turns are the lane module's jobs; the user's own card comes back", async () => {
  await withWebchat(async (server) => {
    // The default policy makes a card HighlySensitive: the chat goes local-only, unredacted.
    // Before, the user's own card came back as [CREDIT_CARD] while an e-mail came back clear.
    assertEquals(
      await chat(server, "u1", "card 4000 0566 5566 5556, mail ada@example.org"),
      "power heard: card 4000 0566 5566 5556, mail ada@example.org. Reach the owner at [EMAIL_2].",
    );
    // Before, chat turns ran on a private lane: `/lane/v1/*` and `lane stats` showed nothing.
    const res = await fetch(new URL("/lane/v1/jobs?lane=prompt", server.url), {
      headers: { authorization: `Bearer ${LANE_READER}` },
    });
    const { jobs } = await res.json();
    assertEquals(
      jobs.map((
        j: { kind: string; state: string; result: unknown },
      ) => [j.kind, j.state, j.result]),
      [[CHAT_TURN_KIND, "completed", { answered: true }]],
    );
    assert(jobs[0].session.startsWith("u1:webchat:"), jobs[0].session);
    assert(!JSON.stringify(jobs).includes("4000"), "the lane keeps no message text");
  }, { lane: true });
});

Deno.test("the WebChat socket streams a sanitized reply in deltas", async () => {
  await withWebchat(async (server) => {
    const url = new URL("/safeclaw/v1/webchat/ws?user=u1", server.url);
    url.protocol = "ws:";
    const ws = new WebSocket(url);
    const messages: { type: string; text?: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        messages.push(msg);
        if (msg.type === "done" || msg.type === "error") resolve();
      };
      ws.onerror = () => reject(new Error("socket error"));
    });
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send(JSON.stringify({ type: "message", text: "hello" }));
    await done;
    const deltas = messages.filter((m) => m.type === "delta");
    assert(deltas.length > 1, "the reply arrives in several deltas");
    assertEquals(
      deltas.map((m) => m.text).join(""),
      "power heard: hello. Reach the owner at [EMAIL_1].",
    );
    const closed = new Promise((resolve) => (ws.onclose = resolve));
    ws.close();
    await closed;
  });
});

Deno.test("a WebChat reply gives back only the user's own values, never a tool result's", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "webchat-test-key-0123456789",
    tee: { kind: null, device: null },
  });
  const hub = new ChannelHub(guard, [], () => Promise.resolve(""));
  // The agent reads a tool result in the chat's session, then streams what the model wrote.
  const responder = async function* ({ session, text }: { session: string; text: string }) {
    await guard.ingestToolResult(session, "sql", "row: bob.customer@corp.example, plan gold");
    yield `${text} | [EMAIL_1] [EMAI`;
    yield "L_2] bob.customer@corp.example";
  };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request) => webchatSocket(request, guard, hub, responder),
  );
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/?user=u1`);
    let reply = "";
    const done = new Promise<void>((resolve, reject) => {
      ws.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        if (msg.type === "delta") reply += msg.text;
        if (msg.type === "done") resolve();
        if (msg.type === "error") reject(new Error(msg.message));
      };
      ws.onerror = () => reject(new Error("socket error"));
    });
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send(JSON.stringify({ type: "message", text: "I am ada@example.org" }));
    await done;
    // Before, the tool's address came back in clear, through its placeholder and quoted.
    assertEquals(reply, "I am ada@example.org | ada@example.org [EMAIL_2] [EMAIL_2]");
    const closed = new Promise((resolve) => (ws.onclose = resolve));
    ws.close();
    await closed;
  } finally {
    await server.shutdown();
    await hub.close();
    await guard.close();
    await store.close();
  }
});

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test({
  name: "WebChat in headless Chromium: load the page, send a message, see the reply stream in",
  ignore: CHROMIUM === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    await withWebchat(async (server) => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--headless=new"],
      });
      try {
        const page = await browser.newPage();
        await page.goto(server.url.toString());
        await page.waitForSelector("#status:has-text('connected')", { timeout: 15_000 });
        await page.fill("#text", "hello from chromium");
        await page.click("#send");
        const reply = await page.waitForSelector(".msg.bot[data-done='true']", { timeout: 15_000 });
        assertEquals(
          await reply.textContent(),
          "power heard: hello from chromium. Reach the owner at [EMAIL_1].",
        );
        assertEquals(await page.locator(".msg.user").textContent(), "hello from chromium");
      } finally {
        await browser.close();
      }
    });
  },
});

Deno.test("the streaming responder leaves out chunks of another shape, as the proxy does", async () => {
  const delta = (content: unknown) =>
    JSON.stringify({ choices: [{ index: 0, delta: { content } }] });
  const events = [
    "null",
    "{oops",
    delta({ text: "ada@example.org" }),
    delta("Hello"),
    delta(" there"),
  ];
  const upstream = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(events.map((e) => `data: ${e}\n\n`).join("") + "data: [DONE]\n\n", {
      headers: { "content-type": "text/event-stream" },
    });
  });
  try {
    const responder = chatStreamResponder(`http://127.0.0.1:${upstream.addr.port}/v1`, "m");
    const pieces: string[] = [];
    for await (const piece of responder({ session: "s", text: "hi", localOnly: true })) {
      pieces.push(piece);
    }
    // Before, the first chunk ended the reply with "reply failed".
    assertEquals(pieces, ["Hello", " there"]);
  } finally {
    await upstream.shutdown();
  }
});
