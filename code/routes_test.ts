import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer, ValidationError } from "@a3s/common";
import { AgentPool, codeModule, createCodeRoutes } from "./routes.ts";
import { ScriptedProvider } from "./llm/scripted.ts";
import { bubblewrapAvailable } from "./runtime/sandbox.ts";
import { SessionSandboxes } from "./runtime/session_sandboxes.ts";
import { sessionFolder } from "./runtime/session_workspaces.ts";
import { endUserKey } from "./session_isolation.ts";
import { scriptedOpenAiServer } from "./_testing/servers.ts";
import { readSse } from "./llm/sse.ts";
import type { AgentEvent } from "./agent/events.ts";
import OpenAI from "openai";

const TOKEN = "code-test-token-0123456789abcdef";
const READER = "code-read-token-0123456789abcdef";

Deno.test("routes: sessions over HTTP: SSE events, approvals answered by POST, history, cancel; scopes enforced", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-routes-" });
  const llm = scriptedOpenAiServer((_b, n) =>
    n === 0
      ? {
        text: "Saving.",
        toolCalls: [{ name: "write", arguments: { path: "note.txt", content: "saved" } }],
      }
      : { text: "All done." }
  );
  await Deno.writeTextFile(
    `${home}/coder.hcl`,
    `default_model = "llm/m"
workspace = "ws"
providers {
  name     = "llm"
  base_url = "${llm.url}"
}
permissions {
  ask = ["write"]
}
`,
  );
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: {
        tokens: [{ token: TOKEN, scopes: ["code:exec", "code:read"] }, {
          token: READER,
          scopes: ["code:read"],
        }],
      },
      code: { agents: { coder: "coder.hcl" } },
    }),
  );
  const module = codeModule({ withPower: false });
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 }, modules: [module] }),
    modules: [module],
    logger: createLogger("silent"),
  });
  const call = (method: string, path: string, body?: unknown, token = TOKEN) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  try {
    const denied = await call("POST", "/code/v1/sessions", { agent: "coder" }, READER);
    assertEquals(denied.status, 403);
    await denied.body?.cancel();
    const missing = await call("POST", "/code/v1/sessions", { agent: "nobody" });
    assertEquals(missing.status, 404);
    assertEquals((await missing.json()).field, "agent");
    const badBody = await call("POST", "/code/v1/sessions", { agent: 3 });
    assertEquals([badBody.status, (await badBody.json()).field], [400, "agent"]);

    const created = await call("POST", "/code/v1/sessions", { agent: "coder" });
    assertEquals(created.status, 201);
    const session = await created.json();
    assertEquals(session.agent, "coder");
    assert(session.tools.includes("bash"));

    const res = await call("POST", `/code/v1/sessions/${session.id}/messages`, {
      prompt: "save a note",
    });
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const events: AgentEvent[] = [];
    for await (const sse of readSse(res.body!)) {
      const event = JSON.parse(sse.data) as AgentEvent;
      assertEquals(sse.event, event.type);
      events.push(event);
      if (event.type === "approval_request") {
        const answer = await call(
          "POST",
          `/code/v1/sessions/${session.id}/approvals/${event.callId}`,
          { allow: true },
        );
        assertEquals(answer.status, 200);
        await answer.body?.cancel();
      }
    }
    assertEquals(events.map((e) => e.type).filter((t) => t !== "usage" && t !== "text"), [
      "turn_start",
      "tool_start",
      "approval_request",
      "approval_result",
      "tool_end",
      "done",
    ]);
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.text, "All done.");
    assertEquals(await Deno.readTextFile(`${home}/ws/note.txt`), "saved");

    const history = await (await call("GET", `/code/v1/sessions/${session.id}`, undefined, READER))
      .json();
    assertEquals(history.messages.map((m: { role: string }) => m.role), [
      "system",
      "user",
      "assistant",
      "tool",
      "assistant",
    ]);
    const noApproval = await call("POST", `/code/v1/sessions/${session.id}/approvals/nope`, {
      allow: true,
    });
    assertEquals(noApproval.status, 404);
    await noApproval.body?.cancel();
    const closed = await call("DELETE", `/code/v1/sessions/${session.id}`);
    assertEquals(await closed.json(), { id: session.id, cancelled: false });
    const gone = await call("GET", `/code/v1/sessions/${session.id}`);
    assertEquals(gone.status, 404);
    await gone.body?.cancel();

    // The stored session can be resumed by id.
    const resumed =
      await (await call("POST", "/code/v1/sessions", { agent: "coder", resume: session.id }))
        .json();
    assertEquals(resumed.id, session.id);
    const again = await (await call("GET", `/code/v1/sessions/${session.id}`)).json();
    assertEquals(again.messages.length, 5);
    // The chat-completions façade: an OpenAI client (or safeclaw's channel responder) talks to an agent.
    const client = new OpenAI({ baseURL: `${server.url}/code/v1`, apiKey: TOKEN });
    const chat = await client.chat.completions.create({
      model: "coder",
      messages: [{ role: "user", content: "save a note" }],
      user: "ada",
    });
    assertEquals(chat.choices[0].message.content, "All done.");
    const streamed = await client.chat.completions.create({
      model: "coder",
      messages: [{ role: "user", content: "again" }],
      user: "ada",
      stream: true,
    });
    let text = "";
    for await (const part of streamed) text += part.choices[0]?.delta?.content ?? "";
    assertEquals(text, "All done.");
    const spec = await (await fetch(`${server.url}/openapi.json`)).json();
    assert(spec.paths["/code/v1/sessions/{id}/messages"]);
  } finally {
    await server.shutdown();
    await llm.close();
    await Deno.remove(home, { recursive: true });
  }
});

/**
 * A model for end-user tests: `remember X` saves X, `recall X` searches for it, `write X` writes
 * X to mine.txt, `look` lists the folder the session works in, and `recap` lists the messages
 * of the conversation so far.
 */
function endUserModel() {
  return new ScriptedProvider([(req) => {
    const last = req.messages.at(-1)!;
    if (last.role === "tool") return { text: `output: ${last.content}` };
    const [verb, ...rest] = last.content.split(" ");
    const call = (name: string, args: Record<string, unknown>) => ({
      toolCalls: [{ name, arguments: args }],
    });
    if (verb === "remember") return call("memory", { action: "save", content: rest.join(" ") });
    if (verb === "recall") return call("memory", { action: "search", query: rest.join(" ") });
    if (verb === "write") return call("write", { path: "mine.txt", content: rest.join(" ") });
    if (verb === "look") return call("bash", { command: "ls; echo looked" });
    const said = req.messages.filter((m) => m.role === "user").map((m) => m.content);
    return { text: `so far: ${said.join(" | ")}` };
  }]);
}

/** Waits until `done()` holds, for at most 10 s: timers run late on a busy machine. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !done(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

Deno.test("routes: chat completions: each named end user has a memory, folder and conversation of their own, kept across an idle close; without a user, the agent's", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-end-users-" });
  await Deno.writeTextFile(
    `${home}/helper.hcl`,
    `name = "helper"
default_model = "s/m"
workspace = "ws"
box {
  session_idle_minutes = 0.005
}
`,
  );
  await Deno.mkdir(`${home}/ws`);
  const root = await Deno.realPath(`${home}/ws`);
  const sandbox = new SessionSandboxes({
    driver: bubblewrapAvailable() ? "bwrap" : "process",
    root,
    network: false,
    workspace: "session",
  });
  const store = await openStore({ sqlitePath: ":memory:" });
  const pool = new AgentPool(
    { agents: { helper: `${home}/helper.hcl` }, default_agent: "helper", default_workspace: "ws" },
    {
      home,
      store,
      powerUrl: "http://127.0.0.1:9/v1",
      agentOptions: { sandbox, providers: { s: endUserModel() } },
    },
  );
  const app = createCodeRoutes(pool);
  const chat = async (content: string, user?: string): Promise<string> => {
    const res = await app.request("/code/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "helper",
        messages: [{ role: "user", content }],
        ...(user ? { user } : {}),
      }),
    });
    assertEquals(res.status, 200);
    return (await res.json()).choices[0].message.content;
  };
  try {
    assert((await chat("remember my door code is 4711", "ada")).includes("saved"));
    assert((await chat("write ada-file", "ada")).includes("created mine.txt"));
    assert((await chat("recall door code", "ada")).includes("4711"));
    assertEquals(
      await Deno.readTextFile(`${root}/sessions/${sessionFolder(endUserKey("ada"))}/mine.txt`),
      "ada-file",
    );
    // Bob recalls none of Ada's memories and sees none of her files, nor she his.
    assertEquals(await chat("recall door code", "bob"), "output: nothing found");
    const bob = await chat("look", "bob");
    assert(bob.includes("looked") && !bob.includes("mine.txt"), bob);
    assert((await chat("write bob-file", "bob")).includes("created mine.txt"));
    assert((await chat("look", "ada")).includes("mine.txt"));
    assertEquals(
      await Deno.readTextFile(`${root}/sessions/${sessionFolder(endUserKey("ada"))}/mine.txt`),
      "ada-file",
    );

    // Without a user: the agent's own memory, as before, and a session that ends with its turn.
    assert((await chat("remember the office opens at 9")).includes("saved"));
    assert((await chat("recall office")).includes("opens at 9"));
    assertEquals(await chat("recall office", "ada"), "output: nothing found");
    assertEquals(await chat("recall door code"), "output: nothing found");

    // Idle, the end users' sessions close; Ada's next request goes on with her conversation.
    await until(() => pool.sessions.size === 0, "the idle sessions close");
    assertEquals(
      await chat("recap", "ada"),
      "so far: remember my door code is 4711 | write ada-file | recall door code | look | " +
        "recall office | recap",
    );
    assert((await chat("recall door code", "ada")).includes("4711"));
  } finally {
    await pool.close();
    await sandbox.close();
    await store.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("chat completions: the local-only header keeps a turn off a remote model", async () => {
  const home = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${home}/remote.hcl`,
    `name = "remote"
default_model = "cloud/big"
workspace = "ws"
providers {
  name     = "cloud"
  base_url = "https://cloud.example.com/v1"
  models { id = "big" }
}
`,
  );
  await Deno.mkdir(`${home}/ws`);
  let asked = 0;
  const cloud = new ScriptedProvider([() => {
    asked++;
    return { text: "from the cloud" };
  }]);
  const store = await openStore({ sqlitePath: ":memory:" });
  const pool = new AgentPool(
    { agents: { remote: `${home}/remote.hcl` }, default_agent: "remote", default_workspace: "ws" },
    {
      home,
      store,
      powerUrl: "http://127.0.0.1:9/v1",
      agentOptions: { providers: { cloud } },
    },
  );
  const app = createCodeRoutes(pool);
  const chat = (headers: Record<string, string>) =>
    app.request("/code/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "remote", messages: [{ role: "user", content: "my card" }] }),
    });
  try {
    // safeclaw sends the header for a local-only chat: the remote model is never asked.
    const held = await chat({ "x-a3s-local-only": "true" });
    assertEquals(held.status, 200, await held.clone().text());
    const refusal = (await held.json()).choices[0].message.content;
    assert(refusal.includes("local model"), refusal);
    assertEquals(asked, 0);
    const open = await chat({});
    assertEquals((await open.json()).choices[0].message.content, "from the cloud");
    assertEquals(asked, 1);
  } finally {
    await pool.close();
    await store.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("routes: serve refuses to start on an agent file that is missing or invalid, naming the key and path", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-agents-" });
  const start = async (code: Record<string, unknown>) => {
    const module = codeModule({ withPower: false });
    await Deno.writeTextFile(`${home}/config.json`, JSON.stringify({ code }));
    const server = await startServer({
      config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 }, modules: [module] }),
      modules: [module],
      logger: createLogger("silent"),
    });
    await server.shutdown();
  };
  try {
    // Before, serve started and said ready, and every chat failed with "Please try again".
    const missing = await assertRejects(
      () => start({ agents: { x: "/nope/agent.hcl" }, default_agent: "x" }),
      ValidationError,
    );
    assertEquals(missing.message, "config code.agents.x: no agent file at /nope/agent.hcl");
    assertEquals(missing.status, 400);
    const relative = await assertRejects(
      () => start({ agents: { helper: "agents/helper.hcl" } }),
      ValidationError,
    );
    assertEquals(
      relative.message,
      `config code.agents.helper: no agent file at agents/helper.hcl (${home}/agents/helper.hcl)`,
    );
    await Deno.writeTextFile(`${home}/bad.hcl`, 'max_steps = "many"\n');
    const invalid = await assertRejects(
      () => start({ agents: { bad: `${home}/bad.hcl` } }),
      ValidationError,
    );
    assert(invalid.message.startsWith(`config code.agents.bad: ${home}/bad.hcl:1: max_steps:`));
    assert(!invalid.message.includes("\n"), invalid.message);
    // A file that loads starts as before.
    await Deno.writeTextFile(`${home}/good.hcl`, 'default_model = "llm/m"\n');
    await start({ agents: { good: "good.hcl" }, default_agent: "good" });
    // An unset env() stops serve only in the default agent; another one is warned of.
    await Deno.writeTextFile(`${home}/env.hcl`, 'default_model = env("A3S_TEST_UNSET_MODEL")\n');
    await start({ agents: { good: "good.hcl", later: "env.hcl" }, default_agent: "good" });
    const unset = await assertRejects(
      () => start({ agents: { later: "env.hcl" }, default_agent: "later" }),
      ValidationError,
    );
    assert(unset.message.includes("A3S_TEST_UNSET_MODEL is not set"), unset.message);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
