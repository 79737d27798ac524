/**
 * Where a session's tool output is checked before its model reads it. Every session path
 * (HTTP, CLI, chat channels, subagents, plan steps) runs tool calls through one method of
 * `AgentSession`, which asks the session's guard; the guard asks an inspector. Without one it
 * uses safeclaw's functions in process; `serve` gives it safeclaw's `Guard`, so the output is
 * also audited and raises the level of the safeclaw session it belongs to.
 */
import type { Guard } from "@a3s/safeclaw";
import type { GuardFinding } from "./guard.ts";

/** What an inspector is asked about. */
export interface ToolOutputRequest {
  /** The safeclaw session the output belongs to: a chat's `user:channel:chat`, or the agent session's. */
  session: string;
  /** The tool that printed it. */
  tool: string;
  /** The output, as the tool returned it. */
  text: string;
  /** `web` for fetched or searched pages, `tool_result` for everything else. */
  source: "tool_result" | "web";
}

/** An inspector's verdict. */
export interface ToolOutputVerdict {
  /** The sensitive spans found. */
  findings: GuardFinding[];
  /** True when the output tries to give the model instructions. */
  injection: boolean;
  /** True when the inspector's own policy withholds such output, whatever the agent's says. */
  withhold: boolean;
}

/** Classifies tool output and checks it for injected instructions. */
export interface ToolOutputInspector {
  /** Looks at one tool output. */
  inspect(request: ToolOutputRequest): Promise<ToolOutputVerdict>;
}

/**
 * An inspector on safeclaw's `Guard`: each output is classified, checked, recorded in the
 * tamper-evident audit log and raises its session's level (a printed key makes a chat
 * local-only), under the guard's policy.
 *
 * @example
 * ```ts ignore
 * const agent = await Agent.create("agent.hcl", { toolOutputInspector: safeclawToolOutputs(guard) });
 * ```
 */
export function safeclawToolOutputs(guard: Guard): ToolOutputInspector {
  return {
    async inspect({ session, tool, text, source }) {
      const decision = source === "web"
        ? await guard.inspectInput({ session, text, source: "web" })
        : await guard.ingestToolResult(session, tool, text);
      return {
        findings: decision.findings.map((f) => ({ type: f.type, start: f.start, end: f.end })),
        injection: decision.injection.injection,
        withhold: decision.injection.injection && decision.action === "block",
      };
    },
  };
}
