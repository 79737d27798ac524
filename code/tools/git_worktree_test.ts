/** `git_worktree` on a real git repository in a temp workspace. */
import { assert, assertEquals } from "@a3s/common/testing";
import { Workspace } from "../runtime/workspace.ts";
import { ProcessSandbox } from "../runtime/sandbox.ts";
import { gitWorktreeTool } from "./git_worktree.ts";
import { runTool } from "./run_tool.ts";
import type { ToolServices } from "./services.ts";

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { GIT_CONFIG_NOSYSTEM: "1", HOME: cwd },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`git ${args.join(" ")}: ${text}`);
  return text.trim();
}

/** A workspace that is a git repository with one commit on `main`. */
async function repo(): Promise<Workspace> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "a3s-code-worktree-" }));
  await git(dir, "init", "-q", "-b", "main");
  await git(dir, "config", "user.email", "agent@example.org");
  await git(dir, "config", "user.name", "agent");
  await Deno.writeTextFile(`${dir}/README.md`, "hello\n");
  await git(dir, "add", "README.md");
  await git(dir, "commit", "-q", "-m", "first");
  return Workspace.open(dir);
}

function worktree(ws: Workspace, input: Record<string, unknown>) {
  const checked = gitWorktreeTool.validate(input);
  if (!checked.ok) return Promise.resolve({ content: checked.error, isError: true });
  return runTool(gitWorktreeTool, checked.input, {
    workspace: ws,
    sandbox: new ProcessSandbox(),
    callId: "wt",
    services: {} as ToolServices,
    signal: AbortSignal.timeout(30_000),
  }, { timeoutMs: 30_000, outputLimit: 4_000 });
}

Deno.test("git_worktree: create gives an isolated checkout on its own branch; list and remove", async () => {
  const ws = await repo();
  try {
    const created = await worktree(ws, { action: "create", name: "fix-1" });
    assertEquals(created.isError, false, created.content);
    assertEquals(created.content, "created worktree .worktrees/fix-1 on branch wt/fix-1 from HEAD");
    const checkout = `${ws.root}/.worktrees/fix-1`;
    assertEquals(await Deno.readTextFile(`${checkout}/README.md`), "hello\n");
    assertEquals(await git(checkout, "rev-parse", "--abbrev-ref", "HEAD"), "wt/fix-1");

    // Work in the worktree stays there: the main checkout's branch and files do not move.
    await Deno.writeTextFile(`${checkout}/README.md`, "changed in the worktree\n");
    await git(checkout, "commit", "-q", "-am", "sub-agent work");
    assertEquals(await Deno.readTextFile(`${ws.root}/README.md`), "hello\n");
    assertEquals(await git(ws.root, "rev-parse", "--abbrev-ref", "HEAD"), "main");
    assertEquals(await git(ws.root, "log", "--format=%s", "wt/fix-1", "-1"), "sub-agent work");

    const listed = await worktree(ws, { action: "list" });
    assert(
      listed.content.includes(checkout) && listed.content.includes("[wt/fix-1]"),
      listed.content,
    );

    // A second worktree from a named base; the same name twice is git's error, returned.
    const second = await worktree(ws, { action: "create", name: "fix-2", base: "main" });
    assertEquals(second.isError, false, second.content);
    const again = await worktree(ws, { action: "create", name: "fix-1" });
    assert(again.isError && again.content.includes("git worktree add failed"), again.content);

    const removed = await worktree(ws, { action: "remove", name: "fix-1" });
    assertEquals(removed.content, "removed worktree .worktrees/fix-1");
    assertEquals(await Deno.stat(checkout).then(() => true, () => false), false);
    // The branch and its commit outlive the checkout, for the parent to merge.
    assertEquals(await git(ws.root, "log", "--format=%s", "wt/fix-1", "-1"), "sub-agent work");
    const after = await worktree(ws, { action: "list" });
    assert(!after.content.includes("fix-1") && after.content.includes("fix-2"), after.content);
  } finally {
    await Deno.remove(ws.root, { recursive: true });
  }
});

Deno.test("git_worktree: bad names, option-like bases and a missing name are refused; outside a repo it is git's error", async () => {
  const ws = await repo();
  try {
    for (
      const input of [
        { action: "create", name: ".." },
        { action: "create", name: "a..b" },
        { action: "create", name: "-f" },
        { action: "create", name: "x y" },
        { action: "create", name: "ok", base: "--orphan" },
      ]
    ) {
      const refused = await worktree(ws, input);
      assert(refused.isError, JSON.stringify(input));
    }
    const missing = await worktree(ws, { action: "remove" });
    assert(missing.isError && missing.content.includes("name is required"), missing.content);
    assertEquals(await Deno.stat(`${ws.root}/.worktrees`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(ws.root, { recursive: true });
  }
  const plain = Workspace.open(await Deno.makeTempDir({ prefix: "a3s-code-noworktree-" }));
  try {
    const r = await worktree(plain, { action: "create", name: "x" });
    assert(r.isError && r.content.includes("not a git repository"), r.content);
  } finally {
    await Deno.remove(plain.root, { recursive: true });
  }
});
