/**
 * The agent behind every remaining chat channel, in one real `mod.ts serve`, offline: Slack,
 * Discord, Feishu, DingTalk and WeCom each post a message signed (or sealed) as the platform
 * does, safeclaw verifies and checks it, queues it in the chat's lane, the code agent runs a
 * command in a box, and the sanitized reply goes back through a local fake of that platform's
 * reply API (safeclaw/testdata/fake_platforms.ts). A forged request on each channel is refused.
 * The same serve's HTTP `/code/v1` session shows that a key a command prints never reaches the
 * model on that path either.
 *
 * The signatures and ciphers are computed here from the platforms' documentation, not with
 * safeclaw's own helpers, so a mistake in an adapter cannot cancel itself out.
 */
import { join } from "node:path";
import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../common/_assert.ts";
import { scriptedOpenAiServer } from "../code/_testing/servers.ts";
import type { ScriptedReply } from "../code/llm/scripted.ts";
import { startFakePlatforms } from "../safeclaw/testdata/fake_platforms.ts";
import { spawnServe, waitReady } from "./_serve.ts";
import { makeTestHomeDir, removeTestHome } from "../box/_test_home_teardown.ts";

const KEY = "AKIAQWERTYUIOPASDFGH";
const OTHER_EMAIL = "bob.jones@corp-internal.com";
/** Prints the key without holding it: only the command's output carries it. */
const COMMAND = `echo "host=$(hostname)"; echo "leaked ${KEY.slice(0, 8)}""${KEY.slice(8)}"`;
/** What each user asks: benign, and read as such by safeclaw's injection detector. */
const ASK = "Run the command hostname and tell me what it printed.";
const READER = "channels-e2e-reader-token-0123456789";
const CODER = "channels-e2e-code-token-0123456789ab";

const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const FEISHU = { appId: "cli_a1b2", appSecret: "feishu-app-secret", token: "feishu-vtoken" };
const FEISHU_ENCRYPT_KEY = "feishu-encrypt-key";
const DINGTALK_SECRET = "dingtalk-app-secret-0123";
const WECOM = {
  corpId: "ww0123456789abcdef",
  corpSecret: "wecom-corp-secret",
  agentId: 1000002,
  token: "wecom-callback-token",
  encodingAesKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
};

type Message = { role: string; content?: string | null };

/** The scripted model: a command when asked about the host, then an answer quoting its output. */
function scriptedModel(body: Record<string, unknown>): ScriptedReply {
  const messages = body.messages as Message[];
  const last = messages[messages.length - 1];
  if (last.role === "tool") {
    return { text: `The box said: ${last.content}\nAsk ${OTHER_EMAIL}, key ${KEY}.` };
  }
  if (last.content?.includes("hostname")) {
    return { toolCalls: [{ name: "bash", arguments: { command: COMMAND } }] };
  }
  return { text: "Hello from the agent." };
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Feishu's encrypted event: AES-256-CBC under SHA-256(Encrypt Key), a random IV in front. */
function feishuSeal(event: unknown): string {
  const key = createHash("sha256").update(FEISHU_ENCRYPT_KEY).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(event), "utf8"), cipher.final()]);
  return JSON.stringify({ encrypt: Buffer.concat([iv, sealed]).toString("base64") });
}

/**
 * WeCom's callback crypto: 16 random bytes, the length (4 bytes big-endian), the message and
 * the corp id, PKCS#7-padded to 32 bytes, AES-256-CBC with the key's first 16 bytes as IV.
 */
function wecomSeal(xml: string): string {
  const key = Buffer.from(WECOM.encodingAesKey + "=", "base64");
  const body = Buffer.from(xml, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const plain = Buffer.concat([randomBytes(16), length, body, Buffer.from(WECOM.corpId)]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([
    cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])),
    cipher.final(),
  ])
    .toString("base64");
}

const wecomSignature = (timestamp: string, nonce: string, encrypted: string) =>
  createHash("sha1").update([WECOM.token, timestamp, nonce, encrypted].sort().join("")).digest(
    "hex",
  );

/** A webhook request: where it goes, and how it is signed. */
interface Signed {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Each platform's signed delivery of `text` from one user, and a forged one. */
function deliveries(platforms: string, discordKey: CryptoKey) {
  const now = () => String(Math.floor(Date.now() / 1000));
  return {
    slack(text: string, forged = false): Promise<Signed> {
      const body = JSON.stringify({
        token: "verification-token-unused",
        team_id: "T061EG9R6",
        api_app_id: "A0PNCHHK2",
        type: "event_callback",
        event_id: `Ev${crypto.randomUUID().slice(0, 8)}`,
        event_time: Number(now()),
        event: {
          type: "message",
          channel: "D024BE91L",
          channel_type: "im",
          user: "U2147483697",
          text,
          ts: "1355517523.000005",
        },
      });
      const ts = now();
      const signature = "v0=" +
        createHmac("sha256", forged ? "not-the-secret" : SLACK_SECRET)
          .update(`v0:${ts}:${body}`).digest("hex");
      return Promise.resolve({
        path: "slack",
        headers: { "x-slack-request-timestamp": ts, "x-slack-signature": signature },
        body,
      });
    },
    async discord(text: string, forged = false): Promise<Signed> {
      const body = JSON.stringify({
        id: "1190000000000000001",
        application_id: "1190000000000000000",
        type: 2,
        token: `interaction-token-${crypto.randomUUID()}`,
        version: 1,
        channel_id: "1190000000000000123",
        member: { user: { id: "80351110224678912", username: "ada" } },
        data: {
          id: "1",
          name: "ask",
          type: 1,
          options: [{ name: "prompt", type: 3, value: text }],
        },
      });
      const ts = now();
      const signed = new TextEncoder().encode(ts + (forged ? body + " " : body));
      const signature = hex(await crypto.subtle.sign({ name: "Ed25519" }, discordKey, signed));
      return {
        path: "discord",
        headers: { "x-signature-ed25519": signature, "x-signature-timestamp": ts },
        body,
      };
    },
    feishu(text: string, forged = false): Promise<Signed> {
      const body = feishuSeal({
        schema: "2.0",
        header: {
          event_id: crypto.randomUUID(),
          token: FEISHU.token,
          create_time: String(Date.now()),
          event_type: "im.message.receive_v1",
          tenant_key: "736588c9260f175d",
          app_id: FEISHU.appId,
        },
        event: {
          sender: {
            sender_id: { open_id: "ou_7d8a6e6df7621556ce0d21922b676706" },
            sender_type: "user",
          },
          message: {
            message_id: `om_${crypto.randomUUID().replaceAll("-", "")}`,
            chat_id: "oc_5ad11d72b830411d72b836c20",
            chat_type: "p2p",
            message_type: "text",
            content: JSON.stringify({ text }),
          },
        },
      });
      const ts = now();
      const nonce = crypto.randomUUID();
      const signature = createHash("sha256")
        .update(ts + nonce + (forged ? "other-key" : FEISHU_ENCRYPT_KEY) + body).digest("hex");
      return Promise.resolve({
        path: "feishu",
        headers: {
          "x-lark-request-timestamp": ts,
          "x-lark-request-nonce": nonce,
          "x-lark-signature": signature,
        },
        body,
      });
    },
    dingtalk(text: string, forged = false): Promise<Signed> {
      const ts = String(Date.now());
      const sign = createHmac("sha256", forged ? "wrong-secret" : DINGTALK_SECRET)
        .update(`${ts}\n${DINGTALK_SECRET}`).digest("base64");
      const body = JSON.stringify({
        msgtype: "text",
        text: { content: ` ${text}` },
        msgId: `msg${crypto.randomUUID().slice(0, 8)}`,
        createAt: Date.now(),
        conversationType: "1",
        // Real conversation ids are Base64 and often end in "=", which lane's session ids refuse
        // today (reported); this one has no padding.
        conversationId: "cidL8nDYQw8YDqeyhFwqBRUeQ",
        senderId: "$:LWCP_v1:$abcdef",
        senderNick: "Ada",
        senderStaffId: "manager4587",
        sessionWebhook: `${platforms}/robot/sendBySession?session=c0ffee`,
        sessionWebhookExpiredTime: Date.now() + 3_600_000,
        robotCode: "dingrobot",
      });
      return Promise.resolve({ path: "dingtalk", headers: { timestamp: ts, sign }, body });
    },
    wecom(text: string, forged = false): Promise<Signed> {
      const inner = `<xml><ToUserName><![CDATA[${WECOM.corpId}]]></ToUserName>` +
        `<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>${now()}</CreateTime>` +
        `<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${text}]]></Content>` +
        `<MsgId>1234567890123456</MsgId><AgentID>${WECOM.agentId}</AgentID></xml>`;
      const encrypted = wecomSeal(inner);
      const ts = now();
      const nonce = "1372623149";
      const signature = wecomSignature(ts, nonce, forged ? encrypted + "x" : encrypted);
      const query = `msg_signature=${signature}&timestamp=${ts}&nonce=${nonce}`;
      return Promise.resolve({
        path: `wecom?${query}`,
        headers: { "content-type": "text/xml" },
        body: `<xml><ToUserName><![CDATA[${WECOM.corpId}]]></ToUserName>` +
          `<AgentID><![CDATA[${WECOM.agentId}]]></AgentID>` +
          `<Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`,
      });
    },
  };
}

/** Where each platform's reply lands on the fake, and the text in it. */
const REPLIES: Record<string, { path: RegExp; text: (body: Record<string, unknown>) => string }> = {
  slack: { path: /^\/chat\.postMessage$/, text: (b) => String(b.text) },
  discord: { path: /^\/webhooks\/1190000000000000000\//, text: (b) => String(b.content) },
  feishu: {
    // A reply to the user's message (in its thread when it came in one).
    path: /^\/open-apis\/im\/v1\/messages\/om_\w+\/reply$/,
    text: (b) => String(JSON.parse(String(b.content)).text),
  },
  dingtalk: {
    path: /^\/robot\/sendBySession$/,
    text: (b) => String((b.text as { content: string }).content),
  },
  wecom: {
    path: /^\/cgi-bin\/message\/send$/,
    text: (b) => String((b.text as { content: string }).content),
  },
};

/** The session key safeclaw files each channel's chat under (`user:channel:chat`). */
const SESSIONS: Record<string, string> = {
  slack: "U2147483697:slack:D024BE91L",
  discord: "80351110224678912:discord:1190000000000000123",
  feishu: "ou_7d8a6e6df7621556ce0d21922b676706:feishu:oc_5ad11d72b830411d72b836c20",
  dingtalk: "manager4587:dingtalk:cidL8nDYQw8YDqeyhFwqBRUeQ",
  wecom: `zhangsan:wecom:${WECOM.agentId}`,
};

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name:
    "channels: Slack, Discord, Feishu, DingTalk and WeCom → safeclaw → lane → agent in a box → sanitized reply on each platform; /code/v1 too",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await makeTestHomeDir("a3sb-channels-");
    const platforms = startFakePlatforms();
    const model = scriptedOpenAiServer(scriptedModel);
    const discordKeys = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const discordPublic = hex(await crypto.subtle.exportKey("raw", discordKeys.publicKey));
    const agentDir = join(home, "agents", "helper");
    await Deno.mkdir(agentDir, { recursive: true });
    await Deno.writeTextFile(
      join(agentDir, "agent.hcl"),
      `name = "helper"
default_model = "scripted/helper-model"
workspace = "${join(agentDir, "workspace")}"
max_steps = 4
providers {
  name = "scripted"
  base_url = "${model.url}"
  api_key = "unused"
  models {
    id = "helper-model"
  }
}
tools {
  enabled = ["bash"]
}
box {
  driver = "box"
  image = "busybox:latest"
}
`,
    );
    await Deno.writeTextFile(
      join(home, "config.json"),
      JSON.stringify({
        safeclaw: {
          channels: {
            slack: { signingSecret: SLACK_SECRET, botToken: "xoxb-17-e2e", apiBase: platforms.url },
            discord: {
              publicKey: discordPublic,
              applicationId: "1190000000000000000",
              apiBase: platforms.url,
            },
            feishu: {
              appId: FEISHU.appId,
              appSecret: FEISHU.appSecret,
              verificationToken: FEISHU.token,
              encryptKey: FEISHU_ENCRYPT_KEY,
              apiBase: platforms.url,
            },
            dingtalk: { appSecret: DINGTALK_SECRET, apiBase: platforms.url },
            wecom: { ...WECOM, apiBase: platforms.url },
          },
        },
        code: { agents: { helper: join(agentDir, "agent.hcl") }, default_agent: "helper" },
      }),
    );
    const serve = await spawnServe([], {
      A3S_HOME: home,
      A3S_TOKENS: `${READER}=safeclaw:read,${CODER}=code:exec`,
      A3S_LOG_LEVEL: "warn",
    });
    const deliver = deliveries(platforms.url, discordKeys.privateKey);
    const post = (s: Signed) =>
      fetch(`${serve.url}/safeclaw/v1/channels/${s.path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...s.headers },
        body: s.body,
      });
    const audit = async (session: string) =>
      (await (await fetch(
        `${serve.url}/safeclaw/v1/audit?session=${encodeURIComponent(session)}&limit=100`,
        { headers: { authorization: `Bearer ${READER}` } },
      )).json()) as { records: { kind: string; data?: Record<string, unknown> }[] };
    try {
      await waitReady(serve.url, 90_000);

      // WeCom's URL check: the echostr is decrypted and echoed.
      const echo = wecomSeal("echo-4242");
      const ts = String(Math.floor(Date.now() / 1000));
      const check = await fetch(
        `${serve.url}/safeclaw/v1/channels/wecom?msg_signature=${
          wecomSignature(ts, "n1", echo)
        }&timestamp=${ts}&nonce=n1&echostr=${encodeURIComponent(echo)}`,
      );
      assertEquals([check.status, await check.text()], [200, "echo-4242"]);

      for (const [name, make] of Object.entries(deliver)) {
        const forged = await post(await make(ASK, true));
        assertEquals(forged.status, 401, `${name}: a forged request was accepted`);
        await forged.body?.cancel();
      }
      assertEquals(platforms.calls.length, 0, "a forged request reached the agent");

      // All five at once: each chat has its own lane, so they run side by side.
      for (const [name, make] of Object.entries(deliver)) {
        const response = await post(await make(ASK));
        assertEquals(response.status, 200, `${name}: ${await response.clone().text()}`);
        if (name === "discord") assertEquals((await response.json()).type, 5); // deferred
        else await response.body?.cancel();
      }
      for (const [name, reply] of Object.entries(REPLIES)) {
        const call = await until(
          `the ${name} reply`,
          () => platforms.calls.find((c) => reply.path.test(c.path)),
          90_000,
        ).catch((error) => {
          throw new Error(`${error.message}; serve's log:\n${serve.logs().slice(-4000)}`);
        });
        const text = reply.text(call.body);
        const host = /host=(\S+)/.exec(text)?.[1];
        assert(
          host && host !== Deno.hostname(),
          `${name}: the command did not run in a box: ${text}`,
        );
        assert(!text.includes(KEY), `${name}: the key leaked: ${text}`);
        assert(!text.includes(OTHER_EMAIL), `${name}: an address leaked: ${text}`);
        const records = await audit(SESSIONS[name]);
        assert(
          records.records.some((r) =>
            r.data?.source === "tool_result" && r.data?.level === "Critical"
          ),
          `${name}: the tool output was not inspected under the chat: ${JSON.stringify(records)}`,
        );
      }
      // The platforms' own conventions on the way out.
      const slack = platforms.calls.find((c) => c.path === "/chat.postMessage")!;
      assertEquals([slack.authorization, slack.body.channel, slack.body.thread_ts], [
        "Bearer xoxb-17-e2e",
        "D024BE91L",
        "1355517523.000005",
      ]);
      const wecom = platforms.calls.find((c) => c.path === "/cgi-bin/message/send")!;
      assertEquals([wecom.body.touser, wecom.body.agentid], ["zhangsan", WECOM.agentId]);
      const feishu = platforms.calls.find((c) => REPLIES.feishu.path.test(c.path))!;
      assertEquals([feishu.body.msg_type, feishu.body.reply_in_thread], ["text", false]);

      // An HTTP session of the same agent: its model never reads the printed key either.
      const auth = { authorization: `Bearer ${CODER}`, "content-type": "application/json" };
      const opened = await fetch(`${serve.url}/code/v1/sessions`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ agent: "helper" }),
      });
      assertEquals(opened.status, 201);
      const { id } = await opened.json() as { id: string };
      const turn = await fetch(`${serve.url}/code/v1/sessions/${id}/messages`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ prompt: ASK }),
      });
      const events = await turn.text();
      assert(events.includes("event: done"), events);
      const toolEnd = events.split("\n").find((l) =>
        l.startsWith("data:") && l.includes("tool_end")
      );
      assert(toolEnd?.includes("leaked *****"), `the HTTP tool output was not masked: ${toolEnd}`);
      assert(!events.includes(KEY), "the key reached the HTTP client");
      const httpRecords = await audit(id);
      assert(
        httpRecords.records.some((r) => r.data?.source === "tool_result"),
        JSON.stringify(httpRecords),
      );

      // Whatever the path, no request to the model ever carried the key.
      const toolResults = model.bodies.flatMap((b) => b.messages as Message[])
        .filter((m) => m.role === "tool").map((m) => m.content ?? "");
      assertEquals(toolResults.length, 6, `one tool result per chat and the HTTP session`);
      assert(toolResults.every((t) => t.includes("host=")), toolResults.join("\n"));
      assert(!JSON.stringify(model.bodies).includes(KEY), "the key reached the model");
    } finally {
      await serve.stop();
      await model.close();
      await platforms.close();
      // The boxes the agent ran leave cgroups outside the home; this takes them too.
      removeTestHome(home);
    }
  },
});
