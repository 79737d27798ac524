/** `bash`: a shell command in the session's sandbox, at the workspace root. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const bashTool = defineTool({
  name: "bash",
  description:
    "Run a shell command and return its output. It runs in the workspace sandbox (no network unless the agent allows it); the result has the exit code, stdout and stderr.",
  effect: "exec",
  input: z.object({
    command: z.string().min(1).describe("The shell command to run"),
    cwd: z.string().default(".").describe("folder to run in, relative to the workspace"),
    timeout_ms: z.number().int().positive().max(600_000).optional(),
  }),
  subject: (input) => input.command,
  // The command's own timeout governs; the tool timeout is a backstop above the longest allowed.
  timeoutMs: 610_000,
  async run(input, ctx) {
    const cwd = ctx.workspace.resolve(input.cwd);
    const result = await ctx.sandbox.run(input.command, {
      cwd,
      timeoutMs: input.timeout_ms ?? 120_000,
      signal: ctx.signal,
    });
    if (ctx.signal.aborted) throw new ToolError("bash cancelled");
    const parts = [`exit code: ${result.exitCode}${result.timedOut ? " (timed out)" : ""}`];
    if (result.stdout) parts.push(`stdout:\n${result.stdout.trimEnd()}`);
    if (result.stderr) parts.push(`stderr:\n${result.stderr.trimEnd()}`);
    return parts.join("\n");
  },
});
