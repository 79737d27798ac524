import { assert, assertEquals } from "@a3s/common/testing";
import { z } from "zod";
import { openStore } from "@a3s/common";
import { Agent } from "./agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { defineTool, type Tool } from "../tools/tool.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "a3s-code-policy-" });
}

/** A tool touching several files per call, as a multi-file patch does: `subjects` lists them. */
const touchAll: Tool & { subjects(input: Record<string, unknown>): string[] } = {
  ...defineTool({
    name: "touch_all",
    description: "touch files",
    effect: "write",
    input: z.object({ paths: z.array(z.string()) }),
    run: (input) => Promise.resolve(`touched ${input.paths.join(" ")}`),
  }),
  subjects: (input) => input.paths as string[],
};

/** The same, with its subjects from `subject` (a list where one string is typed). */
const touchAllBySubject: Tool = {
  ...defineTool({
    name: "touch_all2",
    description: "touch files",
    effect: "write",
    input: z.object({ paths: z.array(z.string()) }),
    run: (input) => Promise.resolve(`touched ${input.paths.join(" ")}`),
  }),
  subject: (input) => input.paths as unknown as string,
};

/** Asks the session whether each path may be read, as grep and glob do for what they show. */
const readable = defineTool({
  name: "readable",
  description: "which paths may be read",
  effect: "read",
  input: z.object({ paths: z.array(z.string()) }),
  run: (input, ctx) => {
    const services = ctx.services as typeof ctx.services & { mayRead?: (p: string) => boolean };
    return Promise.resolve(input.paths.map((p) => `${p}=${services.mayRead?.(p)}`).join(" "));
  },
});

Deno.test("session: every subject a tool names is checked, the strictest decision winning", async () => {
  const dir = await tempDir();
  const approvals: (string | undefined)[] = [];
  const llm = new ScriptedProvider([
    { toolCalls: [{ name: "touch_all", arguments: { paths: ["src/a.ts", "./src/b.ts"] } }] },
    { toolCalls: [{ name: "touch_all", arguments: { paths: ["src/a.ts", "protected/x"] } }] },
    { toolCalls: [{ name: "touch_all2", arguments: { paths: ["src/a.ts", "protected/x"] } }] },
    { toolCalls: [{ name: "touch_all", arguments: { paths: ["src/a.ts", "docs/c.md"] } }] },
    { text: "done" },
  ]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    permissions: {
      preset: "strict",
      allow: ["touch_all*(src/**)"],
      deny: ["touch_all*(protected/**)"],
    },
  }, {
    providers: { s: llm },
    tools: [touchAll, touchAllBySubject],
    approver: (req) => {
      approvals.push(req.subject);
      return Promise.resolve(false);
    },
  });
  try {
    const session = agent.session();
    await session.send("go");
    assertEquals(session.audit.map((a) => [a.tool, a.decision, a.rule]), [
      ["touch_all", "allow", "touch_all*(src/**)"],
      ["touch_all", "deny", "touch_all*(protected/**)"],
      ["touch_all2", "deny", "touch_all*(protected/**)"],
      ["touch_all", "ask-denied", undefined],
    ]);
    assertEquals(approvals, ["src/a.ts, docs/c.md"]);
    const denied = llm.requests[2].messages.at(-1)!.content;
    assertEquals(
      denied,
      "Error: permission denied for touch_all(src/a.ts, protected/x) by rule touch_all*(protected/**)",
    );
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session: the services tell a search which files read rules let it show (mayRead)", async () => {
  const dir = await tempDir();
  const llm = new ScriptedProvider([
    {
      toolCalls: [{
        name: "readable",
        arguments: { paths: ["src/a.ts", "private/plan.txt", `${dir}/private/b`, "x/.env"] },
      }],
    },
    { text: "done" },
  ]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    permissions: { preset: "strict", deny: ["read(private/**)", "read(**/.env)"] },
  }, { providers: { s: llm }, tools: [readable] });
  try {
    const session = agent.session();
    await session.send("go");
    assertEquals(
      llm.requests[1].messages.at(-1)!.content,
      `src/a.ts=true private/plan.txt=false ${dir}/private/b=false x/.env=false`,
    );
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session: a subagent gets no tool its parent lacks, and is held to its parent's permissions", async () => {
  const dir = await tempDir();
  await Deno.mkdir(`${dir}/private`);
  await Deno.writeTextFile(`${dir}/private/plan.txt`, "the plan");
  await Deno.writeTextFile(`${dir}/notes.txt`, "notes");
  const llm = new ScriptedProvider([(req) => {
    const last = req.messages.at(-1)!;
    if (req.messages[0].content.includes("parent-agent")) {
      if (last.role === "user") {
        return { toolCalls: [{ name: "task", arguments: { agent: "general", prompt: "look" } }] };
      }
      return { text: "done" };
    }
    if (last.role === "user") {
      return {
        toolCalls: [
          { name: "read", arguments: { path: "private/plan.txt" } },
          { name: "read", arguments: { path: "notes.txt" } },
          { name: "bash", arguments: { command: "echo hi" } },
        ],
      };
    }
    return { text: "sub done" };
  }]);
  const agent = await Agent.fromConfig({
    workspace: dir,
    default_model: "s/m",
    system_prompt: "parent-agent",
    // The subagent's own permissions would allow everything.
    agents: [{ name: "general", prompt: "sub-agent", permissions: { preset: "permissive" } }],
  }, { providers: { s: llm } });
  try {
    const session = agent.session({
      tools: ["read", "task"],
      permissions: { deny: ["read(private/**)"] },
    });
    await session.send("go");
    const child = llm.requests.find((r) => r.messages[0].content.includes("sub-agent"))!;
    assertEquals(child.tools!.map((t) => t.name).sort(), ["read"]);
    const sub = session.audit.filter((a) => a.tool !== "task").map((a) => [
      a.tool,
      a.decision,
      a.rule,
    ]);
    assertEquals(sub.sort(), [
      ["bash", "invalid", undefined],
      ["read", "allow", undefined],
      ["read", "deny", "read(private/**)"],
    ]);
    assert(!JSON.stringify(llm.requests).includes("the plan"));
  } finally {
    await agent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session: memory asks under strict when it saves, not when it searches; what it saves keeps no secret", async () => {
  const dir = await tempDir();
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
  const llm = new ScriptedProvider([
    {
      toolCalls: [{
        name: "memory",
        arguments: { action: "save", content: `deploy key ${key}, mail ada@example.org` },
      }],
    },
    { toolCalls: [{ name: "memory", arguments: { action: "search", query: "deploy" } }] },
    { text: "done" },
  ]);
  const agent = await Agent.fromConfig({
    workspace: `${dir}/ws`,
    default_model: "s/m",
    permissions: { preset: "strict" },
  }, { providers: { s: llm }, store, approver: () => Promise.resolve(true) });
  try {
    const session = agent.session();
    await session.send("remember");
    assertEquals(session.audit.map((a) => [a.tool, a.decision]), [
      ["memory", "ask-allowed"],
      ["memory", "allow"],
    ]);
    const saved = await agent.memory!.list({ limit: 5 });
    assertEquals(saved.length, 1);
    assert(!saved[0].content.includes(key), saved[0].content);
    assert(saved[0].content.includes("ada@example.org"), saved[0].content);
  } finally {
    await agent.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
