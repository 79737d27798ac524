/** `git_worktree`: an isolated checkout per subagent under `.worktrees/<name>`. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const gitWorktreeTool = defineTool({
  name: "git_worktree",
  description:
    "Manage git worktrees: create gives an isolated checkout at .worktrees/<name> on a new branch (for a subagent's work), list shows them, remove deletes one.",
  effect: "write",
  input: z.object({
    action: z.enum(["create", "list", "remove"]),
    // The name becomes a folder under .worktrees/ and a branch: no `..` out of it, no option.
    name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "letters, digits, . _ - only")
      .refine((n) => !n.includes(".."), "no '..'").optional(),
    // A leading '-' would be read by git as an option.
    base: z.string().regex(/^[A-Za-z0-9._\/][A-Za-z0-9._\/-]*$/, "a branch or commit name")
      .default("HEAD"),
  }),
  subject: (input) => `${input.action} ${input.name ?? ""}`.trim(),
  async run(input, ctx) {
    const git = async (args: string) => {
      const r = await ctx.sandbox.run(`git ${args}`, {
        cwd: ctx.workspace.root,
        timeoutMs: 60_000,
        signal: ctx.signal,
      });
      if (r.exitCode !== 0) {
        throw new ToolError(
          `git ${args.split(" ")[0]} ${args.split(" ")[1] ?? ""} failed: ${
            (r.stderr || r.stdout).trim()
          }`,
        );
      }
      return r.stdout.trim();
    };
    if (input.action === "list") return await git("worktree list") || "no worktrees";
    if (!input.name) throw new ToolError("name is required for create and remove");
    const dir = `.worktrees/${input.name}`;
    if (input.action === "create") {
      await git(`worktree add -b wt/${input.name} ${dir} ${input.base}`);
      return `created worktree ${dir} on branch wt/${input.name} from ${input.base}`;
    }
    await git(`worktree remove --force ${dir}`);
    return `removed worktree ${dir}`;
  },
});
