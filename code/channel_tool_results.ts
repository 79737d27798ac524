/**
 * safeclaw's check on what a tool returns in a channel conversation, before the agent's model
 * reads it: the output is classified, tracked and audited under the chat's session (its level
 * ratchets, so a secret a command printed makes the chat local-only), its secrets and personal
 * data are masked, and output that tries to give the model instructions is withheld. Without
 * it, a key that `cat` printed would travel to the model verbatim.
 */
import { type Guard, sanitize } from "@a3s/safeclaw";
import type { HookRegistration } from "./policy/hooks.ts";

/** What the model reads instead of tool output that carries instructions. */
export const WITHHELD_INJECTION =
  "[safeclaw: this tool output tries to give you instructions and was withheld]";

/**
 * A `PostToolUse` hook for the agent sessions that `channelOf` maps to a chat session;
 * other sessions pass through untouched.
 *
 * @example
 * ```ts ignore
 * const keys = new Map<string, string>();
 * const hook = channelToolResultHook(ctx.modules.safeclaw as Guard, (id) => keys.get(id));
 * ```
 */
export function channelToolResultHook(
  guard: Guard,
  channelOf: (agentSessionId: string) => string | undefined,
): HookRegistration {
  return {
    event: "PostToolUse",
    label: "safeclaw tool-result check",
    async run(event) {
      const session = channelOf(event.sessionId);
      const output = event.data.output;
      if (!session || typeof output !== "string" || !output) return;
      const decision = await guard.inspectInput({ session, text: output, source: "tool_result" });
      if (decision.injection.injection) {
        return { action: "modify", data: { output: WITHHELD_INJECTION } };
      }
      if (!decision.findings.length) return;
      // Masks, not placeholders: a placeholder would be restored into the reply to the user.
      return { action: "modify", data: { output: sanitize(output, decision.findings, "mask") } };
    },
  };
}
