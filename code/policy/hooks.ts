/**
 * Hooks on upstream's eight events, run in priority order. Each continues, continues with
 * modified data, or blocks. A hook is a TypeScript function or a shell command that reads the
 * event as JSON on stdin and may print a decision as JSON on stdout (exit code 2 blocks, with
 * stderr as the reason, as Claude Code's hooks do).
 */
import { globToRegExp } from "../runtime/glob.ts";
import type { HookConfig, HookEventName } from "../config/schema.ts";
import { readCapped } from "@a3s/common/capped-text";
import { writeStdin } from "@a3s/common/stdin";

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

/**
 * Bytes of a shell hook's stdout read as its decision: a decision is a small JSON object, even
 * one that modifies a tool's output. What a hook prints beyond it is read and dropped, so a hook
 * that prints without end costs no memory.
 */
export const DECISION_KEPT = 4 * 1024 * 1024;
/** Bytes of a blocking hook's stderr kept as its reason (the start and the end). */
export const REASON_KEPT = 64 * 1024;

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
      // Written while the outputs are read: a hook that echoes its input (`cat`, `jq .`,
      // `tee -a log`) fills its stdout pipe before it has read all of a large event, and
      // waiting for the write first would deadlock until the timeout.
      const written = writeStdin(child.stdin, new TextEncoder().encode(JSON.stringify(event)));
      const [status, stdout, stderr] = await Promise.all([
        child.status,
        readCapped(child.stdout, DECISION_KEPT),
        readCapped(child.stderr, REASON_KEPT),
        written,
      ]);
      if (status.code === 2) {
        return { action: "block", reason: stderr.text().trim() || "blocked by hook" };
      }
      if (status.signal) {
        return { action: "block", reason: `hook timed out after ${config.timeout_ms} ms` };
      }
      if (status.code !== 0) return; // A failing hook is reported in logs, not a veto.
      // A decision cut short is no decision; the hook's print is informational then.
      if (stdout.dropped) return;
      return parseDecision(stdout.text());
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
