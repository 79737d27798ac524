/**
 * Hooks on upstream's eight events, run in priority order. Each continues, continues with
 * modified data, or blocks. A hook is a TypeScript function or a shell command that reads the
 * event as JSON on stdin and may print a decision as JSON on stdout (exit code 2 blocks, with
 * stderr as the reason, as Claude Code's hooks do).
 */
import { globToRegExp } from "../runtime/glob.ts";
import type { HookConfig, HookEventName } from "../config/schema.ts";

export type { HookEventName };

/** What a hook receives. `tool` is set for tool events; `data` is the event's payload. */
export interface HookEvent {
  /** The event that fired. */
  event: HookEventName;
  /** The session it fired in. */
  sessionId: string;
  /** The tool's name, for tool events. */
  tool?: string;
  /** The event's payload, such as a tool's input or output. */
  data: Record<string, unknown>;
}

/** What a hook answers. */
export type HookDecision =
  | { action: "continue" }
  | { action: "modify"; data: Record<string, unknown> }
  | { action: "block"; reason: string };

/** A TypeScript hook. Returning nothing continues. */
export type HookFunction = (event: HookEvent) => HookDecision | void | Promise<HookDecision | void>;

/** A registered hook. */
export interface HookRegistration {
  /** The event the hook runs on. */
  event: HookEventName;
  /** A tool-name glob (`bash`, `mcp__github__*`); without one the hook sees every tool. */
  matcher?: string;
  /** Order among hooks of one event; lower runs first (default 0). */
  priority?: number;
  /** The hook itself. */
  run: HookFunction;
  /** For messages: the command or the function's name. */
  label?: string;
}

/** The outcome of running every hook of an event. */
export interface HookOutcome {
  /** Set when a hook blocked: its reason and the hook's label. */
  blocked?: { reason: string; hook: string };
  /** The payload after every `modify`. */
  data: Record<string, unknown>;
}

function parseDecision(stdout: string): HookDecision | undefined {
  const text = stdout.trim();
  if (!text) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // Plain output is informational, as in Claude Code.
  }
  const action = json.action ?? json.decision;
  if (action === "block" || action === "deny") {
    return { action: "block", reason: String(json.reason ?? "blocked by hook") };
  }
  if (action === "modify" && json.data && typeof json.data === "object") {
    return { action: "modify", data: json.data as Record<string, unknown> };
  }
  return { action: "continue" };
}

/** A hook that runs `command` with bash, the event as JSON on stdin. */
export function shellHook(config: HookConfig, cwd: string): HookRegistration {
  return {
    event: config.event,
    matcher: config.matcher,
    priority: config.priority,
    label: config.command,
    async run(event) {
      const child = new Deno.Command("bash", {
        args: ["-c", config.command],
        cwd,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(config.timeout_ms),
        env: {
          A3S_HOOK_EVENT: event.event,
          A3S_SESSION_ID: event.sessionId,
          ...(event.tool ? { A3S_TOOL: event.tool } : {}),
        },
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(JSON.stringify(event))).catch(() => {});
      await writer.close().catch(() => {});
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr).trim();
      if (out.code === 2) return { action: "block", reason: stderr || "blocked by hook" };
      if (out.signal) {
        return { action: "block", reason: `hook timed out after ${config.timeout_ms} ms` };
      }
      if (out.code !== 0) return; // A failing hook is reported in logs, not a veto.
      return parseDecision(new TextDecoder().decode(out.stdout));
    },
  };
}

/**
 * The hooks of one agent.
 *
 * @example
 * ```ts
 * import { HookRunner } from "./hooks.ts";
 * const hooks = new HookRunner();
 * hooks.register({ event: "PreToolUse", matcher: "bash", run: (e) =>
 *   String(e.data.command).includes("rm ") ? { action: "block", reason: "no rm" } : undefined });
 * ```
 */
export class HookRunner {
  readonly #hooks: HookRegistration[] = [];

  /** Adds a hook; hooks run in priority order, then in registration order. */
  register(hook: HookRegistration): void {
    this.#hooks.push(hook);
    // Stable sort keeps registration order within a priority.
    this.#hooks.sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
  }

  /** True when some hook listens for `event` (to skip building payloads no one reads). */
  has(event: HookEventName): boolean {
    return this.#hooks.some((h) => h.event === event);
  }

  /** Runs the event's hooks in priority order; the first block stops the chain. */
  async run(
    event: HookEventName,
    sessionId: string,
    data: Record<string, unknown>,
    tool?: string,
  ): Promise<HookOutcome> {
    let current = data;
    for (const hook of this.#hooks) {
      if (hook.event !== event) continue;
      if (hook.matcher && (tool === undefined || !globToRegExp(hook.matcher, false).test(tool))) {
        continue;
      }
      let decision: HookDecision | void;
      try {
        decision = await hook.run({ event, sessionId, tool, data: current });
      } catch (error) {
        decision = { action: "block", reason: `hook failed: ${(error as Error).message}` };
      }
      if (!decision || decision.action === "continue") continue;
      if (decision.action === "block") {
        return { blocked: { reason: decision.reason, hook: hook.label ?? "hook" }, data: current };
      }
      current = { ...current, ...decision.data };
    }
    return { data: current };
  }
}
