/** Runs one validated tool call with its timeout and output limit; failures become results. */
import { FileKindError, PathEscapeError } from "../runtime/workspace.ts";
import { type Tool, type ToolContext, ToolError } from "./tool.ts";

/** What a tool call produced, as the model will read it. */
export interface ToolResult {
  /** The output (or `Error: ...` message), cut to the output limit. */
  content: string;
  /** True when the tool failed, timed out or the call was refused. */
  isError: boolean;
  /** True when the output was cut to the output limit. */
  truncated: boolean;
  /** How long the call took, in milliseconds. */
  durationMs: number;
}

/** Keeps the head and tail of long output, with a note saying what was cut and how to see it. */
export function truncateOutput(text: string, limit: number): { text: string; truncated: boolean } {
  if (text.length <= limit) return { text, truncated: false };
  const head = Math.floor(limit * 0.8);
  const tail = limit - head;
  const cut = text.length - head - tail;
  return {
    text: `${
      text.slice(0, head)
    }\n\n[... ${cut} characters truncated; ask for a narrower range or a more specific pattern to see them ...]\n\n${
      text.slice(text.length - tail)
    }`,
    truncated: true,
  };
}

/**
 * Runs `tool` on already validated `input`. Timeouts, cancellation and thrown errors turn into
 * an error result the model reads; nothing is thrown. The tool gets a signal that aborts at the
 * timeout or the caller's cancel, and the call returns then: the file tools stop reading and
 * writing between chunks, grep and glob terminate their matching worker, web_fetch cancels its
 * request and body.
 */
export async function runTool(
  tool: Tool,
  input: Record<string, unknown>,
  ctx: Omit<ToolContext, "signal"> & { signal?: AbortSignal },
  limits: { timeoutMs: number; outputLimit: number },
): Promise<ToolResult> {
  const started = performance.now();
  const timeoutMs = tool.timeoutMs ?? limits.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
  let content: string;
  let isError = false;
  try {
    content = await new Promise<string>((resolve, reject) => {
      const onAbort = () =>
        reject(
          timeout.aborted
            ? new ToolError(`${tool.name} timed out after ${timeoutMs} ms`)
            : new ToolError(`${tool.name} cancelled`),
        );
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      tool.run(input, { ...ctx, signal }).then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
  } catch (error) {
    isError = true;
    if (
      error instanceof ToolError || error instanceof PathEscapeError ||
      error instanceof FileKindError
    ) {
      content = `Error: ${error.message}`;
    } else if (error instanceof Deno.errors.NotFound) {
      content = `Error: not found: ${(error as Error).message}`;
    } else content = `Error: ${(error as Error)?.message ?? String(error)}`;
  }
  const { text, truncated } = truncateOutput(content, limits.outputLimit);
  return { content: text, isError, truncated, durationMs: performance.now() - started };
}
