/**
 * Permissions in upstream's model: rules `tool(pattern)` evaluated deny → allow → ask →
 * default, presets, and an approval callback for `ask` with a timeout and a timeout action.
 */
import { globToRegExp } from "../runtime/glob.ts";
import type { PermissionsConfig } from "../config/schema.ts";
import type { ToolEffect } from "../tools/tool.ts";

/** What a rule decides. */
export type PermissionAction = "allow" | "ask" | "deny";

/** A parsed rule: a tool-name glob and an optional subject glob. */
export interface PermissionRule {
  /** The rule as written, such as `bash(git *)`; decisions report it. */
  source: string;
  /** Matches the tool names the rule covers. */
  tool: RegExp;
  /** Matches the subjects (path, command, URL) it covers; any subject when unset. */
  subject?: RegExp;
}

/** Tools whose subject is free text (a command, a URL), where `*` crosses `/`. */
const TEXT_SUBJECTS = new Set([
  "bash",
  "web_fetch",
  "web_search",
  "task",
  "codesearch",
  "git_worktree",
  "load_skill",
]);

/** Parses `bash(git *)`, `read(src/**)`, `mcp__github__*` or `write`. */
export function parseRule(source: string): PermissionRule {
  const m = /^([A-Za-z0-9_*?-]+)(?:\((.*)\))?$/s.exec(source.trim());
  if (!m) throw new Error(`bad permission rule '${source}': expected tool or tool(pattern)`);
  const [, tool, pattern] = m;
  return {
    source,
    tool: globToRegExp(tool, false),
    subject: pattern === undefined || pattern === "*"
      ? undefined
      : globToRegExp(pattern, !TEXT_SUBJECTS.has(tool)),
  };
}

function matches(rule: PermissionRule, tool: string, subject: string | undefined): boolean {
  if (!rule.tool.test(tool)) return false;
  if (!rule.subject) return true;
  return subject !== undefined && rule.subject.test(subject);
}

/** The rules a preset starts from; a config's own rules are added to them. */
export function presetRules(preset: PermissionsConfig["preset"]): {
  allow: string[];
  ask: string[];
  deny: string[];
  default: PermissionAction;
  askEffects: ToolEffect[];
} {
  switch (preset) {
    case "permissive":
      return { allow: [], ask: [], deny: [], default: "allow", askEffects: [] };
    case "strict":
      // Reading is free; anything that writes, runs, reaches the network or spawns agents asks.
      return {
        allow: [],
        ask: [],
        deny: ["bash(sudo *)", "bash(rm -rf /*)"],
        default: "ask",
        askEffects: ["write", "exec", "network", "agent"],
      };
    default:
      // Tools run confined and sandboxed, so the default lets them run; destructive shell asks.
      return {
        allow: [],
        ask: ["bash(rm -rf *)", "bash(git push*)"],
        deny: ["bash(sudo *)"],
        default: "allow",
        askEffects: [],
      };
  }
}

/** One decision and the rule that made it. */
export interface PermissionDecision {
  /** What the call gets. */
  action: PermissionAction;
  /** The rule that decided (or `preset:<effect>`); unset when the default did. */
  rule?: string;
}

/**
 * Decides tool calls from a permissions config.
 *
 * @example
 * ```ts
 * import { PermissionPolicy } from "./permissions.ts";
 * const policy = PermissionPolicy.fromConfig({
 *   preset: "default", allow: ["bash(git *)"], ask: [], deny: ["read(.env)"],
 *   approval_timeout_ms: 1000, timeout_action: "deny",
 * });
 * console.log(policy.decide("read", ".env", "read").action); // "deny"
 * ```
 */
export class PermissionPolicy {
  /** A policy from parsed rules (checked deny, then allow, then ask), the action for calls no rule matches, and the tool effects that are still asked about when that action is `ask`. */
  constructor(
    readonly deny: PermissionRule[],
    readonly allow: PermissionRule[],
    readonly ask: PermissionRule[],
    readonly fallback: PermissionAction,
    readonly askEffects: ReadonlySet<ToolEffect>,
  ) {}

  /** Builds the policy of a config section: its preset's rules merged with the configured ones. */
  static fromConfig(config: PermissionsConfig): PermissionPolicy {
    const preset = presetRules(config.preset);
    const parse = (list: string[]) => list.map(parseRule);
    return new PermissionPolicy(
      parse([...preset.deny, ...config.deny]),
      parse([...config.allow, ...preset.allow]),
      parse([...config.ask, ...preset.ask]),
      config.default ?? preset.default,
      new Set(config.default ? [] : preset.askEffects),
    );
  }

  /** deny → allow → ask → default (where a preset may ask by effect). */
  decide(
    tool: string,
    subject: string | undefined,
    effect: ToolEffect | undefined,
  ): PermissionDecision {
    for (
      const [list, action] of [[this.deny, "deny"], [this.allow, "allow"], [
        this.ask,
        "ask",
      ]] as const
    ) {
      const rule = list.find((r) => matches(r, tool, subject));
      if (rule) return { action, rule: rule.source };
    }
    if (this.fallback === "ask" && effect && !this.askEffects.has(effect)) {
      return { action: "allow", rule: `preset:${effect}` };
    }
    return { action: this.fallback };
  }
}

/** What an `ask` shows the person deciding. */
export interface ApprovalRequest {
  /** The tool call's id. */
  callId: string;
  /** The tool's name. */
  tool: string;
  /** The arguments the model passed. */
  input: Record<string, unknown>;
  /** What the call touches (a path, a command, a URL), when the tool has one. */
  subject?: string;
  /** The rule that asked (`safeclaw(...)` when safeclaw's tool-call check holds the call). */
  rule?: string;
  /** Why safeclaw holds the call for approval (a host off the allow list, tainted data), when it does. */
  reasons?: string[];
}

/** Answers an approval: true allows. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<boolean>;

/**
 * Asks `approver`, falling back to `timeoutAction` when it does not answer in time (or when
 * there is no approver at all).
 */
export async function requestApproval(
  approver: Approver | undefined,
  request: ApprovalRequest,
  timeoutMs: number,
  timeoutAction: "allow" | "deny",
  signal?: AbortSignal,
): Promise<{ allowed: boolean; timedOut: boolean }> {
  if (!approver) return { allowed: timeoutAction === "allow", timedOut: true };
  const timer = AbortSignal.timeout(timeoutMs);
  const both = signal ? AbortSignal.any([timer, signal]) : timer;
  return await new Promise((resolve) => {
    const onAbort = () =>
      resolve({ allowed: !signal?.aborted && timeoutAction === "allow", timedOut: true });
    both.addEventListener("abort", onAbort, { once: true });
    approver(request, both).then(
      (allowed) => resolve({ allowed, timedOut: false }),
      () => resolve({ allowed: false, timedOut: false }),
    ).finally(() => both.removeEventListener("abort", onAbort));
  });
}
