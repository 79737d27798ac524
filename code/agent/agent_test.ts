import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { Agent } from "./agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { scriptedOpenAiServer } from "../_testing/servers.ts";
import type { AgentEvent } from "./events.ts";
import type { HookEventName } from "../config/schema.ts";
import type { ChatRequest } from "../llm/types.ts";
import { SessionSandboxes } from "../runtime/session_sandboxes.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "a3s-code-agent-" });
}

function lastTool(req: ChatRequest): string {
  const m = req.messages[req.messages.length - 1];
  return m.role === "tool" ? m.content : "";
}

Deno.test("agent: tool loop over a real OpenAI-compatible HTTP server; events, history, resume from the store", async () => {
  const dir = await tempDir();
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  const server = scriptedOpenAiServer((body, n) => {
    const messages = body.messages as { role: string; content: string }[];
    if (n === 0) {
      return {
        text: "Writing.",
        toolCalls: [{ name: "write", arguments: { path: "out/hello.txt", content: "hi there\n" } }],
      };
    }
    if (n === 1) return { toolCalls: [{ name: "read", arguments: { path: "out/hello.txt" } }] };
    if (n === 2) {
      return { text: `The file says: ${messages[messages.length - 1].content.split("\t")[1]}` };
    }
    return { text: `You asked ${messages.filter((m) => m.role === "user").length} questions.` };
  });
  try {
    const agent = await Agent.fromConfig({
      workspace: `${dir}/ws`,
      default_model: "local/m",
      providers: [{
        name: "local",
        base_url: server.url,
        models: [{ id: "m", context_window: 32768 }],
      }],
    }, { store });
    const session = agent.session();
    const events: AgentEvent[] = [];
    for await (const e of session.stream("write hello then read it")) events.push(e);
    const done = events.at(-1)!;
    assert(done.type === "done");
    assertEquals(done.result.text, "The file says: hi there");
    assertEquals([done.result.stopReason, done.result.steps, done.result.toolCalls], ["end", 3, 2]);
    assertEquals(
      events.filter((e) => e.type === "tool_end").map((e) => e.type === "tool_end" && e.output),
      [
        "created out/hello.txt (1 lines, 9 bytes)",
        "1\thi there",
      ],
    );
    assertEquals(events[0].type, "turn_start");
    assert(events.some((e) => e.type === "usage"));
    assertEquals(await Deno.readTextFile(`${dir}/ws/out/hello.txt`), "hi there\n");
    assertEquals(session.history.map((m) => m.role), [
      "system",
      "user",
      "assistant",
      "tool",
      "assistant",
      "tool",
      "assistant",
    ]);
    assertEquals(session.audit.map((a) => [a.tool, a.decision]), [["write", "allow"], [
      "read",
      "allow",
    ]]);
    const stored = await agent.auditLog!.list({ sessionId: session.id, limit: 10 });
    assertEquals(stored.map((a) => a.tool).sort(), ["read", "write"]);
    // The wire carried the tools' JSON Schemas.
    const tools = server.bodies[0].tools as { function: { name: string } }[];
    assert(tools.some((t) => t.function.name === "edit"));
    await agent.close();

    // A second agent on the same store resumes the session with its history.
    const again = await Agent.fromConfig({
      workspace: `${dir}/ws`,
      default_model: "local/m",
      providers: [{
        name: "local",
        base_url: server.url,
        models: [{ id: "m", context_window: 32768 }],
      }],
    }, { store });
    const resumed = await again.resume(session.id);
    assert(resumed);
    assertEquals(resumed.history.length, 7);
    assertEquals((await resumed.send("and now?")).text, "You asked 2 questions.");
    assertEquals((await again.history.load(session.id))!.length, 9);
    assertEquals((await again.history.list(10))[0].title, "write hello then read it");
    await again.close();
  } finally {
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: errors go back to the model: unknown tool, bad arguments, denied and unapproved calls, hook blocks", async () => {
  const dir = await tempDir();
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "nope", arguments: {} }, { name: "read", arguments: { path: 7 } }] },
    {
      toolCalls: [{ name: "bash", arguments: { command: "sudo ls" } }, {
        name: "write",
        arguments: { path: "a.txt", content: "x" },
      }],
    },
    {
      toolCalls: [{ name: "bash", arguments: { command: "echo approved" } }, {
        name: "ls",
        arguments: {},
      }],
    },
    { text: "finished" },
  ]);
  const approvals: string[] = [];
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    permissions: { preset: "strict", ask: ["bash(echo *)"] },
  }, {
    providers: { s: llm },
    approver: (req) => {
      approvals.push(`${req.tool}:${req.subject}`);
      return Promise.resolve(req.tool === "bash");
    },
    hooks: [{
      event: "PreToolUse",
      matcher: "ls",
      run: () => ({ action: "block", reason: "ls is off today" }),
    }],
  });
  try {
    const session = agent.session();
    const events: AgentEvent[] = [];
    for await (const e of session.stream("go")) events.push(e);
    const results = llm.requests.slice(1).map((r) =>
      r.messages.filter((m) => m.role === "tool").slice(-2).map((m) => m.content)
    );
    assert(
      results[0][0].startsWith("Error: unknown tool 'nope'; available: read, write"),
      results[0][0],
    );
    assert(results[0][1].startsWith("Error: invalid arguments for read: path:"), results[0][1]);
    assertEquals(results[1][0], "Error: permission denied for bash(sudo ls) by rule bash(sudo *)");
    assertEquals(results[1][1], "Error: the user did not approve write");
    assert(results[2][0].includes("stdout:\napproved"), results[2][0]);
    assertEquals(results[2][1], "Error: blocked by hook: ls is off today");
    assertEquals(approvals, ["write:a.txt", "bash:echo approved"]);
    assertEquals(
      events.filter((e) => e.type === "approval_result").map((e) =>
        e.type === "approval_result" && e.allowed
      ),
      [false, true],
    );
    // Calls of one reply run in parallel, so the audit is in completion order.
    assertEquals(session.audit.map((a) => a.decision).sort(), [
      "ask-allowed",
      "ask-denied",
      "blocked-by-hook",
      "deny",
      "invalid",
      "invalid",
    ]);
    assertEquals((events.at(-1) as { result: { text: string } }).result.text, "finished");
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: a path the OS refuses (a name too long) is a tool error, not a failed turn", async () => {
  const dir = await tempDir();
  const long = `${"n".repeat(300)}/${"x".repeat(5000)}.txt`;
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "read", arguments: { path: long } }] },
    { toolCalls: [{ name: "write", arguments: { path: long, content: "x" } }] },
    { text: "finished" },
  ]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
  });
  try {
    const events: AgentEvent[] = [];
    for await (const e of agent.session().stream("go")) events.push(e);
    assertEquals(events.filter((e) => e.type === "error"), []);
    const results = llm.requests.slice(1).map((r) =>
      r.messages.filter((m) => m.role === "tool").at(-1)!.content
    );
    assertEquals(results.length, 2);
    for (const result of results) assert(result.startsWith("Error: "), result.slice(0, 200));
    assertEquals((events.at(-1) as { result: { text: string } }).result.text, "finished");
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: a secret read from a file cannot leave through web_fetch, and is redacted from the output", async () => {
  const dir = await tempDir();
  const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
  await Deno.writeTextFile(`${dir}/.env`, `GITHUB_TOKEN=${token}\n`);
  const fetched: string[] = [];
  const web = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    fetched.push(req.url);
    return new Response("<html><body><h1>Weather</h1><p>Sunny</p></body></html>", {
      headers: { "content-type": "text/html" },
    });
  });
  const base = `http://127.0.0.1:${web.addr.port}`;
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "read", arguments: { path: ".env" } }] },
    {
      toolCalls: [{ name: "web_fetch", arguments: { url: `${base}/leak?t=${token}` } }, {
        name: "web_fetch",
        arguments: { url: `${base}/weather` },
      }],
    },
    { text: `Done. The token is ${token}.` },
  ]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    web: { allow_private: true },
  }, {
    providers: { s: llm },
  });
  try {
    const session = agent.session();
    const events: AgentEvent[] = [];
    for await (const e of session.stream("check")) events.push(e);
    const ends = events.filter((e) => e.type === "tool_end") as Extract<
      AgentEvent,
      { type: "tool_end" }
    >[];
    // safeclaw's tool-call check refuses it before the tool runs (the tool's own egress check
    // would too), and the refusal is audited as denied.
    assert(
      ends[1].isError && ends[1].output.includes("safeclaw blocked this web_fetch call") &&
        /Secret/.test(ends[1].output),
      ends[1].output,
    );
    const refused = session.audit.find((a) => a.decision === "deny");
    assert(refused?.rule?.startsWith("safeclaw("), JSON.stringify(session.audit));
    assertEquals(ends[2].output, "# Weather\n\nSunny");
    assertEquals(fetched.map((u) => new URL(u).pathname), ["/weather"]);
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.text, "Done. The token is [SECRET].");
    assert(
      events.some((e) =>
        e.type === "guard" && e.source === "tool_result" && e.labels.includes("secret")
      ),
    );
    assertEquals(session.audit[0].tainted, ["secret"]);
  } finally {
    await agent.close();
    await web.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: the default fetch policy refuses loopback URLs", async () => {
  const dir = await tempDir();
  const llm = new ScriptedProvider([{
    toolCalls: [{ name: "web_fetch", arguments: { url: "http://127.0.0.1:9/x" } }],
  }, { text: "ok" }]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
  });
  try {
    await agent.session().send("x");
    const tool = llm.requests[1].messages.at(-1)!;
    assert(
      tool.content.includes("not allowed (private, loopback or link-local address)"),
      tool.content,
    );
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: cancel stops a running turn (model and tools)", async () => {
  const dir = await tempDir();
  const llm = new ScriptedProvider([{
    toolCalls: [{ name: "bash", arguments: { command: "sleep 20" } }],
  }, { text: "never" }]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    box: { driver: "process" },
  }, { providers: { s: llm } });
  try {
    const session = agent.session();
    const started = performance.now();
    const events: AgentEvent[] = [];
    for await (const e of session.stream("sleep")) {
      events.push(e);
      if (e.type === "tool_start") setTimeout(() => session.cancel(), 50);
    }
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.stopReason, "cancelled");
    assert(performance.now() - started < 5_000);
    assertEquals(session.busy, false);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: task runs subagents in isolated contexts, in parallel, and returns their summaries", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/a.txt`, "alpha");
  const subagentStarts: number[] = [];
  const llm = new ScriptedProvider([(req) => {
    const system = req.messages[0].content;
    const user = req.messages.find((m) => m.role === "user")!.content;
    if (system.startsWith("You explore")) {
      if (req.messages.at(-1)!.role === "user") {
        subagentStarts.push(performance.now());
        return { toolCalls: [{ name: "read", arguments: { path: "a.txt" } }], delayMs: 150 };
      }
      return { text: `found ${lastTool(req).split("\t")[1]} for ${user}` };
    }
    if (req.messages.at(-1)!.role === "user") {
      return {
        toolCalls: [
          { name: "task", arguments: { agent: "explore", prompt: "q1" } },
          { name: "task", arguments: { agent: "explore", prompt: "q2" } },
        ],
      };
    }
    const results = req.messages.filter((m) => m.role === "tool").map((m) => m.content);
    return { text: results.join(" | ") };
  }]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
  });
  try {
    const session = agent.session();
    const events: AgentEvent[] = [];
    const started = performance.now();
    for await (const e of session.stream("investigate")) events.push(e);
    const elapsed = performance.now() - started;
    const done = events.at(-1) as Extract<AgentEvent, { type: "done" }>;
    assertEquals(done.result.text, "found alpha for q1 | found alpha for q2");
    // Two subagents, each waiting 150 ms on the model: in parallel, the second asked the model
    // before the first one's wait was over (one after the other, it would ask after 150 ms).
    assertEquals(subagentStarts.length, 2);
    const gap = subagentStarts[1] - subagentStarts[0];
    assert(gap < 150, `the second subagent began ${gap.toFixed(0)} ms after the first`);
    console.log(`two subagents of 150 ms each: ${elapsed.toFixed(0)} ms wall`);
    const sub = events.filter((e) => e.type === "subagent");
    assert(sub.some((e) => e.type === "subagent" && e.event.type === "tool_end"));
    // The subagent's context held none of the parent's conversation, and its tools were read-only.
    const child = llm.requests.find((r) => r.messages[0].content.startsWith("You explore"))!;
    assertEquals(child.messages.filter((m) => m.role === "user").map((m) => m.content).length, 1);
    assert(!child.tools!.some((t) => t.name === "write" || t.name === "task"));
    assertEquals(session.history.length, 6);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: compaction summarizes older messages when the window fills", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/big.txt`, "word ".repeat(3000));
  let summaries = 0;
  const llm = new ScriptedProvider([(req) => {
    if (req.messages[0].content.startsWith("Summarize")) {
      summaries++;
      return { text: "Earlier: read big.txt." };
    }
    const users = req.messages.filter((m) => m.role === "user").length;
    return req.messages.at(-1)!.role === "user" && users < 4
      ? { toolCalls: [{ name: "read", arguments: { path: "big.txt" } }] }
      : { text: "ok" };
  }]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    providers: [{ name: "s", models: [{ id: "m", context_window: 8000, max_tokens: 256 }] }],
    compaction: { keep_recent: 2 },
  }, { providers: { s: llm } });
  try {
    const session = agent.session();
    const events: AgentEvent[] = [];
    for (const p of ["one", "two", "three"]) {
      for await (const e of session.stream(p)) events.push(e);
    }
    const compactions = events.filter((e) => e.type === "compaction");
    assert(compactions.length >= 1 && summaries >= 1, `compactions ${compactions.length}`);
    const c = compactions[0] as Extract<AgentEvent, { type: "compaction" }>;
    assert(c.tokensAfter < c.tokensBefore);
    assert(
      session.history.some((m) =>
        m.role === "user" && m.content.startsWith("[Summary of the earlier conversation]")
      ),
    );
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: config errors and unknown providers fail at creation", async () => {
  const dir = await tempDir();
  let error: Error | undefined;
  try {
    await Agent.fromConfig({ default_model: "nowhere/m", workspace: dir });
  } catch (e) {
    error = e as Error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert(error?.message.includes("no provider named 'nowhere'"), error?.message);
});

Deno.test("agent: lifecycle hooks fire: SessionStart, GenerateStart/End, SkillLoad, SkillUnload, SessionEnd", async () => {
  const dir = await tempDir();
  const seen: string[] = [];
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "load_skill", arguments: { name: "code-review" } }] },
    { text: "reviewed" },
  ]);
  const events: HookEventName[] = [
    "SessionStart",
    "GenerateStart",
    "GenerateEnd",
    "SkillLoad",
    "SkillUnload",
    "SessionEnd",
  ];
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
    hooks: events.map((event) => ({ event, run: () => void seen.push(event) })),
  });
  try {
    const session = agent.session();
    assertEquals((await session.send("review")).text, "reviewed");
    await session.close();
    assertEquals(seen, [
      "SessionStart",
      "GenerateStart",
      "SkillLoad",
      "GenerateEnd",
      "SkillUnload",
      "SessionEnd",
    ]);
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent: over its folder's quota a session's file tools are refused, and bash can delete to get back under", async () => {
  const dir = await Deno.realPath(await tempDir());
  const sandbox = new SessionSandboxes({
    driver: "process",
    root: dir,
    network: false,
    workspace: "session",
    quotaBytes: 64 * 1024,
  });
  const big = "x".repeat(200 * 1024);
  const calls: Record<string, { name: string; arguments: Record<string, unknown> }> = {
    "write big": { name: "write", arguments: { path: "big.txt", content: big } },
    "write small": { name: "write", arguments: { path: "small.txt", content: "hi" } },
    "delete": { name: "bash", arguments: { command: "rm big.txt && echo removed" } },
  };
  const llm = new ScriptedProvider([(req) => {
    const last = req.messages.at(-1)!;
    if (last.role === "tool") return { text: last.content };
    return { toolCalls: [calls[last.content]] };
  }]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    providers: { s: llm },
    sandbox,
  });
  try {
    const session = agent.session({ sandboxKey: "1:telegram:1" });
    const wrote = (await session.send("write big")).text;
    assert(wrote.includes("created big.txt") && wrote.includes("quota"), wrote);
    const refused = (await session.send("write small")).text;
    assert(refused.startsWith("Error: ") && refused.includes("quota"), refused);
    assertEquals(session.audit.at(-1)?.rule, "workspace_quota");
    const removed = (await session.send("delete")).text;
    assert(removed.includes("removed") && !removed.includes("quota"), removed);
    const again = (await session.send("write small")).text;
    assert(again.includes("created small.txt"), again);
    assert(!again.includes("quota"), again);
  } finally {
    await agent.close();
    await sandbox.close();
    await Deno.remove(dir, { recursive: true });
  }
});
