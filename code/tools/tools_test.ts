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

async function call(
  name: string,
  raw: Record<string, unknown>,
  signal?: AbortSignal,
  tool?: Tool,
  options: { services?: ToolServices; timeoutMs?: number; outputLimit?: number } = {},
) {
  const t = tool ?? tools.get(name)!;
  const v = t.validate(raw);
  if (!v.ok) return { content: v.error, isError: true, truncated: false, durationMs: 0 };
  return await runTool(t, v.input, {
    workspace: ws,
    sandbox: new ProcessSandbox(),
    callId: "c1",
    services: options.services ?? services(),
    signal,
  }, {
    timeoutMs: options.timeoutMs ?? 5_000,
    outputLimit: options.outputLimit ?? 2_000,
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

/**
 * A process that flips `path` between a folder (holding `notes.md`) and a symlink to `target`
 * for `seconds`, in a tight loop: what a sandboxed command may do to the workspace.
 */
function swapLoop(path: string, target: string, seconds: number): Deno.ChildProcess {
  const code = `const d = ${JSON.stringify(path)}; const out = ${JSON.stringify(target)};
    const end = Date.now() + ${seconds * 1000}; const t = (f) => { try { f(); } catch {} };
    while (Date.now() < end) {
      t(() => Deno.removeSync(d, { recursive: true }));
      t(() => { Deno.mkdirSync(d); Deno.writeTextFileSync(d + "/notes.md", "inside\\n"); });
      t(() => Deno.removeSync(d, { recursive: true }));
      t(() => Deno.symlinkSync(out, d));
    }
    t(() => Deno.removeSync(d, { recursive: true }));`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function mkfifo(path: string): Promise<void> {
  assert((await new Deno.Command("mkfifo", { args: [path] }).output()).success, "mkfifo");
}

Deno.test("tools: file tools stay inside while the sandbox swaps a folder for a host symlink", () =>
  withWorkspace(async () => {
    const outside = Deno.realPathSync(await Deno.makeTempDir({ prefix: "a3s-host-" }));
    await Deno.writeTextFile(`${outside}/notes.md`, "HOST-ONLY-CONTENT\n");
    try {
      const seconds = 3;
      // What a sandboxed command can do while host-side tools run: flip `d` between a folder
      // and a symlink to a host folder, as fast as it can.
      const swapper = swapLoop(`${ws.root}/d`, outside, seconds);
      const results: string[] = [];
      const started = performance.now();
      while (performance.now() - started < (seconds - 0.5) * 1000) {
        const calls = [];
        for (let i = 0; i < 8; i++) {
          calls.push(call("write", { path: `d/w${i}.txt`, content: "written by a tool\n" }));
          calls.push(call("read", { path: "d/notes.md" }));
          calls.push(call("edit", { path: "d/notes.md", old_string: "CONTENT", new_string: "X" }));
          calls.push(call("grep", { pattern: "HOST", path: "d" }));
          calls.push(call("patch", {
            patch: `--- /dev/null\n+++ b/d/p${i}.txt\n@@ -0,0 +1 @@\n+patched\n`,
          }));
        }
        for (const r of await Promise.all(calls)) results.push(r.content);
      }
      await swapper.status;
      assertEquals(results.filter((r) => r.includes("HOST-ONLY")), [], "no host content read");
      assertEquals([...Deno.readDirSync(outside)].map((e) => e.name), ["notes.md"]);
      assertEquals(await Deno.readTextFile(`${outside}/notes.md`), "HOST-ONLY-CONTENT\n");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  }));

Deno.test("tools: FIFOs and devices are refused at once by every file tool", () =>
  withWorkspace(async () => {
    await mkfifo(`${ws.root}/notes.md`);
    await Deno.writeTextFile(`${ws.root}/a.txt`, "hello\n");
    const started = performance.now();
    const read = await call("read", { path: "notes.md" }, undefined, undefined, {
      timeoutMs: 60_000,
    });
    assertEquals(
      read.content,
      "Error: notes.md is a FIFO (named pipe), not a regular file; only regular files can be used",
    );
    for (
      const [name, input] of [
        ["write", { path: "notes.md", content: "x" }],
        ["edit", { path: "notes.md", old_string: "a", new_string: "b" }],
        ["patch", { patch: "--- a/notes.md\n+++ b/notes.md\n@@ -1 +1 @@\n-a\n+b\n" }],
      ] as const
    ) {
      const r = await call(name, input, undefined, undefined, { timeoutMs: 60_000 });
      assert(r.isError && r.content.includes("FIFO"), `${name}: ${r.content}`);
    }
    assertEquals((await call("grep", { pattern: "." })).content, "a.txt:1:hello");
    assertEquals((await call("glob", { pattern: "*" })).content, "a.txt");
    assertEquals((await call("ls", {})).content, "a.txt (6 bytes)\nnotes.md (0 bytes)");
    assert(performance.now() - started < 10_000, "no call waited on the FIFO");
    assertEquals(
      (await call("read", { path: "/dev/zero" })).content,
      "Error: path '/dev/zero' is outside the workspace",
    );
  }));

Deno.test("tools: grep's catastrophic pattern returns at once; a slow search is stopped by the timeout", () =>
  withWorkspace(async () => {
    await Deno.writeTextFile(`${ws.root}/x.txt`, `${"a".repeat(27)}!\n${"a".repeat(5)}\n`);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      let started = performance.now();
      const redos = await call(
        "grep",
        { pattern: "^(a+)+$", path: "x.txt" },
        undefined,
        undefined,
        {
          timeoutMs: 1_000,
        },
      );
      assertEquals(redos.content, "x.txt:2:aaaaa");
      assert(performance.now() - started < 1_000, `took ${performance.now() - started} ms`);
      const glob = await call("glob", { pattern: "{a,a,a}*{a,a,a}*{a,a,a}*{a,a,a}*b" });
      assertEquals(glob.content, "no files match");
      // Linear, but lengthy: an automaton of 2^16 states over random text.
      let seed = 3;
      const bit = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 1024 ? "a" : "b";
      await Deno.writeTextFile(
        `${ws.root}/random.txt`,
        Array.from({ length: 400 }, () => Array.from({ length: 2000 }, bit).join("")).join("\n"),
      );
      ticks = 0;
      started = performance.now();
      const slow = await call("grep", { pattern: "(?:a[ab]{15})+c" }, undefined, undefined, {
        timeoutMs: 300,
      });
      const took = performance.now() - started;
      assertEquals(slow.content, "Error: grep timed out after 300 ms");
      assert(took < 2_000, `the timeout returned at once (${took} ms)`);
      assert(ticks >= 5, `the event loop kept running (${ticks} ticks)`);
      const refused = await call("grep", { pattern: "(a)\\1" });
      assert(refused.isError && refused.content.includes("backreferences"), refused.content);
    } finally {
      clearInterval(timer);
    }
  }));

Deno.test("tools: patch names every file it touches as a subject, deletions included", () => {
  const patch = tools.get("patch")!;
  const diff = "--- a/src/ok.txt\n+++ b/src/ok.txt\n@@ -1 +1 @@\n-one\n+two\n" +
    "--- a/protected/settings.txt\n+++ b/protected/settings.txt\n@@ -1 +1 @@\n-a\n+b\n" +
    "--- a/protected/keep.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-keep me\n" +
    "--- /dev/null\n+++ b/new/file.txt\n@@ -0,0 +1 @@\n+hi\n";
  assertEquals(patch.subjects?.({ patch: diff }), [
    "src/ok.txt",
    "protected/settings.txt",
    "protected/keep.txt",
    "new/file.txt",
  ]);
  const deletion = "--- a/protected/keep.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-keep me\n";
  assertEquals(patch.subject({ patch: deletion }), "protected/keep.txt");
  assertEquals(patch.subjects?.({ patch: deletion }), ["protected/keep.txt"]);
});

Deno.test("tools: web_fetch reads a huge body only up to its bound", async () => {
  let served = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const html = new URL(req.url).pathname === "/page.html";
    return new Response(
      new ReadableStream({
        pull(controller) {
          if (served >= 1024 * 1024 * 1024) return controller.close();
          controller.enqueue(chunk);
          served += chunk.length;
        },
      }),
      { headers: { "content-type": html ? "text/html" : "text/plain" } },
    );
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const text = await call("web_fetch", { url: `${url}/big`, max_chars: 100 });
    assertEquals(text.content, `${"a".repeat(100)}\n[... truncated at 100 characters]`);
    assert(served < 4 * 1024 * 1024, `read ${served} bytes of a 1 GiB body`);
    served = 0;
    const page = await call("web_fetch", { url: `${url}/page.html`, max_chars: 100 });
    assert(page.content.endsWith("[... truncated at 100 characters]"), page.content);
    assert(served < 9 * 1024 * 1024, `read ${served} bytes of a 1 GiB page`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("tools: memory saves and deletes as writes, redacted through the session", () =>
  withWorkspace(async () => {
    const memory = tools.get("memory")!;
    assertEquals(memory.effect, "write");
    assertEquals(memory.effectOf?.({ action: "save" }), "write");
    assertEquals(memory.effectOf?.({ action: "delete" }), "write");
    assertEquals(memory.effectOf?.({ action: "search" }), "read");
    assertEquals(memory.subject({ action: "delete", id: "mem_1" }), "delete");
    const saved: string[] = [];
    const store = {
      save: (scope: "project" | "user", content: string, tags: string[]) => {
        saved.push(content, ...tags);
        return Promise.resolve({ id: "mem_1", scope, content, tags, createdAt: 0 });
      },
      search: () => Promise.resolve([]),
      list: () => Promise.resolve([]),
      remove: () => Promise.resolve(true),
    };
    const r = await call(
      "memory",
      {
        action: "save",
        content: "the key is sk-live-123",
        tags: ["sk-live-123"],
      },
      undefined,
      undefined,
      {
        services: {
          ...services(),
          memory: store,
          redact: (text) => text.replaceAll("sk-live-123", "[SECRET]"),
        },
      },
    );
    assertEquals(r.content, "saved mem_1 (project)");
    assertEquals(saved, ["the key is [SECRET]", "[SECRET]"]);
  }));

Deno.test("tools: grep, glob and codesearch leave out files the read rules keep back", () =>
  withWorkspace(async () => {
    await Deno.mkdir(`${ws.root}/private`);
    await Deno.writeTextFile(`${ws.root}/private/plan.ts`, "export const target = 'Initech';\n");
    await Deno.writeTextFile(`${ws.root}/open.ts`, "export const target = 'public';\n");
    const guarded = {
      services: { ...services(), mayRead: (path: string) => !path.startsWith("private/") },
    };
    const grep = await call("grep", { pattern: "target" }, undefined, undefined, guarded);
    assertEquals(grep.content, "open.ts:1:export const target = 'public';");
    const direct = await call(
      "grep",
      { pattern: "target", path: "private/plan.ts" },
      undefined,
      undefined,
      guarded,
    );
    assertEquals(direct.content, "no matches");
    assertEquals(
      (await call("glob", { pattern: "**/*.ts" }, undefined, undefined, guarded)).content,
      "open.ts",
    );
    assertEquals(
      (await call("codesearch", { query: "target" }, undefined, undefined, guarded)).content,
      "open.ts:1: export const target = 'public';",
    );
    // Without the service, nothing is left out.
    assertEquals(
      (await call("grep", { pattern: "Initech" })).content,
      "private/plan.ts:1:export const target = 'Initech';",
    );
  }));
