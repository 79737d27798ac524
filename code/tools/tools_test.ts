import { assert, assertEquals } from "@a3s/common/testing";
import { Workspace } from "../runtime/workspace.ts";
import { bubblewrapAvailable, BubblewrapSandbox, ProcessSandbox } from "../runtime/sandbox.ts";
import { BUILTIN_TOOLS } from "./builtin.ts";
import { runTool } from "./run_tool.ts";
import type { TodoItem, ToolServices } from "./services.ts";
import type { Tool } from "./tool.ts";
import { defineTool } from "./tool.ts";
import { z } from "zod";

function services(todos: TodoItem[] = []): ToolServices {
  return {
    getTodos: () => todos,
    setTodos: (items) => void todos.splice(0, todos.length, ...items),
    listSkills: () => [{ name: "review", description: "code review checklist" }],
    loadSkill: (name) => Promise.resolve(name === "review" ? "Check tests." : undefined),
    runSubagent: (agent, prompt) => Promise.resolve(`${agent} did: ${prompt}`),
    subagentNames: () => ["general"],
    runToolCall: (name, input, signal) => call(name, input, signal),
    checkEgress: () => {},
    fetchUrl: (url, signal) => fetch(url, { signal }),
  };
}

let ws: Workspace;
const tools = new Map(BUILTIN_TOOLS.map((t) => [t.name, t]));

async function call(name: string, raw: Record<string, unknown>, signal?: AbortSignal, tool?: Tool) {
  const t = tool ?? tools.get(name)!;
  const v = t.validate(raw);
  if (!v.ok) return { content: v.error, isError: true, truncated: false, durationMs: 0 };
  return await runTool(t, v.input, {
    workspace: ws,
    sandbox: new ProcessSandbox(),
    callId: "c1",
    services: services(),
    signal,
  }, {
    timeoutMs: 5_000,
    outputLimit: 2_000,
  });
}

async function withWorkspace(fn: () => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-tools-" });
  ws = Workspace.open(dir);
  try {
    await fn();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tools: every built-in has a JSON Schema object input and upstream's names", () => {
  assertEquals(BUILTIN_TOOLS.map((t) => t.name), [
    "read",
    "write",
    "edit",
    "patch",
    "bash",
    "grep",
    "glob",
    "ls",
    "web_fetch",
    "web_search",
    "task",
    "batch",
    "git_worktree",
    "codesearch",
    "todo",
    "load_skill",
    "search_skills",
    "memory",
  ]);
  for (const t of BUILTIN_TOOLS) assertEquals(t.parameters.type, "object", t.name);
});

Deno.test("tools: write, read, edit (unique match), patch, ls, glob, grep", () =>
  withWorkspace(async () => {
    assertEquals(
      (await call("write", {
        path: "src/a.ts",
        content: "const x = 1;\nconst y = 1;\nexport function parseConfig() {}\n",
      })).content,
      "created src/a.ts (3 lines, 59 bytes)",
    );
    const read = await call("read", { path: "src/a.ts", offset: 2, limit: 1 });
    assertEquals(read.content, "2\tconst y = 1;\n(1 more lines; read with offset=3)");
    const ambiguous = await call("edit", {
      path: "src/a.ts",
      old_string: "= 1",
      new_string: "= 2",
    });
    assert(ambiguous.isError && ambiguous.content.includes("matches 2 times"), ambiguous.content);
    assertEquals(
      (await call("edit", {
        path: "src/a.ts",
        old_string: "const y = 1",
        new_string: "const y = 3",
      })).content,
      "edited src/a.ts: 1 replacement",
    );
    const patched = await call("patch", {
      patch:
        "--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,2 +1,2 @@\n-const x = 1;\n+const x = 42;\n const y = 3;\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1 @@\n+hello\n",
    });
    assertEquals(patched.content, "patched src/a.ts, notes.md");
    assertEquals(
      await Deno.readTextFile(`${ws.root}/src/a.ts`),
      "const x = 42;\nconst y = 3;\nexport function parseConfig() {}\n",
    );
    const stale = await call("patch", {
      patch: "--- a/notes.md\n+++ b/notes.md\n@@ -1 +1 @@\n-nothere\n+x\n",
    });
    assert(stale.isError && stale.content.includes("do not apply"), stale.content);
    assertEquals((await call("ls", {})).content, "src/\nnotes.md (6 bytes)");
    assertEquals((await call("glob", { pattern: "**/*.ts" })).content, "src/a.ts");
    assertEquals(
      (await call("grep", { pattern: "CONST Y", ignore_case: true })).content,
      "src/a.ts:2:const y = 3;",
    );
    assertEquals(
      (await call("grep", { pattern: "const", output_mode: "count" })).content,
      "src/a.ts:2",
    );
    assertEquals(
      (await call("codesearch", { query: "parseConfig" })).content,
      "src/a.ts:3: export function parseConfig() {}",
    );
    assert(
      (await call("codesearch", { query: "parse config", kind: "text" })).content.startsWith(
        "src/a.ts (score",
      ),
    );
  }));

Deno.test("tools: workspace confinement stops .. and symlink escapes", () =>
  withWorkspace(async () => {
    const outside = await Deno.makeTempDir();
    await Deno.writeTextFile(`${outside}/secret.txt`, "s3cret");
    await Deno.symlink(outside, `${ws.root}/link`);
    try {
      for (const path of ["../x", `${outside}/secret.txt`, "link/secret.txt", "link/new.txt"]) {
        const r = await call(path.endsWith("new.txt") ? "write" : "read", { path, content: "x" });
        assert(r.isError && r.content.includes("outside the workspace"), `${path}: ${r.content}`);
      }
      const r = await call("bash", { command: "pwd", cwd: "../" });
      assert(r.isError && r.content.includes("outside the workspace"));
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  }));

Deno.test("tools: bad arguments, timeouts and long output come back as results", () =>
  withWorkspace(async () => {
    const bad = await call("read", { path: 3 });
    assert(bad.isError && bad.content.startsWith("invalid arguments for read: path:"), bad.content);
    const slow = defineTool({
      name: "slow",
      description: "sleeps",
      effect: "read",
      input: z.object({}),
      timeoutMs: 50,
      run: (_i, ctx) =>
        new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("late"))),
    });
    const timedOut = await call("slow", {}, undefined, slow);
    assertEquals([timedOut.isError, timedOut.content], [true, "Error: slow timed out after 50 ms"]);
    await call("write", { path: "big.txt", content: "x".repeat(10_000) });
    const big = await call("read", { path: "big.txt" });
    assert(
      big.truncated && big.content.includes("characters truncated"),
      big.content.slice(0, 100),
    );
    assert(big.content.length < 2_200);
    const sleep = await call("bash", { command: "sleep 5", timeout_ms: 100 });
    assert(sleep.content.includes("timed out"), sleep.content);
  }));

Deno.test("sandbox: input larger than a pipe reaches a command that echoes it, or one that reads none", () =>
  withWorkspace(async () => {
    const sandbox = new ProcessSandbox();
    const input = "0123456789abcdef".repeat(65536);
    // Written before the output was read, `cat` filled its stdout and both sides waited.
    const echoed = await sandbox.run("cat", { cwd: ws.root, timeoutMs: 20_000, stdin: input });
    assertEquals([echoed.exitCode, echoed.timedOut, echoed.stdout === input], [0, false, true]);
    const unread = await sandbox.run("true", { cwd: ws.root, timeoutMs: 20_000, stdin: input });
    assertEquals([unread.exitCode, unread.timedOut], [0, false]);
  }));

Deno.test({
  name:
    "tools: bash runs in bubblewrap with the workspace writable, the host read-only and no network",
  ignore: !bubblewrapAvailable(),
  fn: () =>
    withWorkspace(async () => {
      const sandbox = new BubblewrapSandbox(ws.root);
      const r = await sandbox.run(
        "echo hi > out.txt && cat out.txt && (touch /usr/x 2>&1 || true) && (cat /proc/net/route | wc -l)",
        {
          cwd: ws.root,
          timeoutMs: 5_000,
        },
      );
      assertEquals(r.exitCode, 0);
      const [hi, touch, routes] = r.stdout.trim().split("\n");
      assertEquals(hi, "hi");
      assert(touch.includes("Read-only file system"), touch);
      assertEquals(routes, "1"); // header only: no interfaces but loopback
      assertEquals(await Deno.readTextFile(`${ws.root}/out.txt`), "hi\n");
    }),
});

Deno.test("tools: todo, skills, task and batch reach the session services", () =>
  withWorkspace(async () => {
    const todo = await call("todo", {
      todos: [{ id: "1", content: "read", status: "completed" }, { id: "2", content: "write" }],
    });
    assertEquals(todo.content, "[x] 1. read\n[ ] 2. write");
    assertEquals(
      (await call("search_skills", { query: "review" })).content,
      "review: code review checklist",
    );
    assertEquals((await call("load_skill", { name: "review" })).content, "Check tests.");
    assert((await call("load_skill", { name: "nope" })).isError);
    assertEquals(
      (await call("task", { prompt: "look around" })).content,
      "general did: look around",
    );
    await call("write", { path: "a.txt", content: "A" });
    const batch = await call("batch", {
      calls: [{ tool: "read", input: { path: "a.txt" } }, { tool: "ls", input: {} }],
    });
    assertEquals(batch.content, "## 1. read\n1\tA\n\n## 2. ls\na.txt (1 bytes)");
    const search = await call("web_search", { query: "x" });
    assert(search.isError && search.content.includes("no search backend"));
  }));
