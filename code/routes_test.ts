import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { codeModule } from "./routes.ts";
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
