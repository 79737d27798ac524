/**
 * The check on a tool call before it runs: safeclaw's `checkToolCall` refuses (or holds for
 * approval) a call whose arguments carry a value read earlier in the session (a secret, PII), or
 * whose command sends data to a host off the allow list (curl, wget, nc, ssh, scp, DNS lookups of
 * encoded data). Every session runs it in process with its own taints; `serve` adds an inspector
 * on safeclaw's `Guard`, so the decision also counts the chat's taints and lands in safeclaw's
 * tamper-evident audit log.
 */
import type { ToolDecision } from "@a3s/safeclaw";
import type { ToolEffect } from "../tools/tool.ts";

/** What a tool-call inspector is asked about. */
export interface ToolCallRequest {
  /** The safeclaw session the call belongs to: a chat's `user:channel:chat`, or the agent session's id. */
  session: string;
  /** The tool's name. */
  tool: string;
  /** The arguments the tool would run with. */
  args: Record<string, unknown>;
}

/** Whether a tool call may run, and why not. */
export interface ToolCallVerdict {
  /** Run it, refuse it, or run it only once the session's approver says yes. */
  decision: "allow" | "block" | "approve";
  /** Why, in words, when not allowed. */
  reasons: string[];
}

/** Checks tool calls before they run (safeclaw's `Guard` in serve). */
export interface ToolCallInspector {
  /** Looks at one call. */
  inspect(request: ToolCallRequest): Promise<ToolCallVerdict>;
}

/** The stricter of two verdicts (block over approve over allow), with both sets of reasons. */
export function stricterVerdict(a: ToolCallVerdict, b: ToolCallVerdict): ToolCallVerdict {
  const rank = { allow: 0, approve: 1, block: 2 } as const;
  const decision = rank[b.decision] > rank[a.decision] ? b.decision : a.decision;
  return { decision, reasons: [...new Set([...a.reasons, ...b.reasons])] };
}

/**
 * Whether a tool's calls are checked: everything that runs commands or reaches the network
 * (`bash`, MCP tools, `web_fetch`, `web_search`, custom tools). The file tools (`read`, `write`
 * effects) only touch the session's workspace and send nothing anywhere, so a script that merely
 * mentions `curl` can still be written; running it is checked. `task` and `batch` are checked
 * call by call, as their subagent or batch runs them.
 */
export function toolCallChecked(effect: ToolEffect): boolean {
  return effect !== "read" && effect !== "write" && effect !== "agent";
}

/** The message a blocked call gives the model, naming safeclaw's reasons. */
export function blockedMessage(tool: string, reasons: readonly string[]): string {
  return `safeclaw blocked this ${tool} call before it ran: ${
    reasons.join("; ") || "the call was refused"
  }. Data may not leave this session this way; do the task without sending it anywhere, or ask the user.`;
}

/**
 * An inspector on safeclaw's `Guard` (`inspectToolCall`): the call is checked with the taints of
 * the safeclaw session it belongs to, and a block or approval is recorded in the audit log. (The
 * session's guard refuses a call whose check fails.)
 *
 * @example
 * ```ts ignore
 * const agent = await Agent.create("agent.hcl", { toolCallInspector: safeclawToolCalls(guard) });
 * ```
 */
export function safeclawToolCalls(
  guard: {
    inspectToolCall(session: string, call: { tool: string; args: unknown }): Promise<ToolDecision>;
  },
): ToolCallInspector {
  return {
    async inspect({ session, tool, args }) {
      const decision = await guard.inspectToolCall(session, { tool, args });
      return { decision: decision.decision, reasons: decision.reasons };
    },
  };
}
