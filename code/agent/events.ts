/** The typed events a session streams, and the channel that carries them. */
import type { Usage } from "../llm/types.ts";
import type { TodoItem } from "../tools/services.ts";

/** How a turn ended. */
export type StopReason = "end" | "max_steps" | "cancelled" | "blocked" | "error";

/** What one turn produced. */
export interface TurnResult {
  /** The final answer, sanitized by the guard. */
  text: string;
  /** Why the turn ended. */
  stopReason: StopReason;
  /** Model calls made. */
  steps: number;
  /** Tool calls made, across all steps. */
  toolCalls: number;
  /** Tokens the turn used, all model calls together. */
  usage: Usage;
  /** Set when stopReason is `error` or `blocked`. */
  error?: string;
}

/** A step of a plan, as plan events report it. */
export interface PlanStepView {
  /** The step's id, unique within the plan. */
  id: string;
  /** What the step is to do. */
  description: string;
  /** Ids of the steps that must complete before this one starts. */
  dependsOn: string[];
  /** Where the step stands. */
  status: "pending" | "running" | "completed" | "failed";
  /** Tries so far, the running one included. */
  attempts: number;
  /** The step's answer once it completed, or its error once it failed. */
  result?: string;
}

/** Everything a session streams. */
export type AgentEvent =
  | { type: "turn_start"; sessionId: string; turn: number; prompt: string }
  | { type: "text"; delta: string }
  | { type: "tool_start"; callId: string; tool: string; input: Record<string, unknown> }
  | {
    type: "tool_end";
    callId: string;
    tool: string;
    output: string;
    isError: boolean;
    truncated: boolean;
    durationMs: number;
  }
  | {
    type: "approval_request";
    callId: string;
    tool: string;
    input: Record<string, unknown>;
    rule?: string;
    /** Why safeclaw holds the call, when it does. */
    reasons?: string[];
  }
  | { type: "approval_result"; callId: string; allowed: boolean; timedOut: boolean }
  | { type: "todos"; todos: TodoItem[] }
  | { type: "plan"; goal: string; steps: PlanStepView[]; revision: number }
  | { type: "plan_step"; step: PlanStepView; wave: number }
  | { type: "subagent"; agent: string; callId?: string; event: AgentEvent }
  | { type: "usage"; usage: Usage; total: Usage }
  | { type: "compaction"; removedMessages: number; tokensBefore: number; tokensAfter: number }
  | {
    type: "guard";
    source: "prompt" | "tool_result" | "output";
    labels: string[];
    injection: boolean;
    redacted?: number;
  }
  | { type: "error"; code: string; message: string }
  | { type: "done"; result: TurnResult };

/** An unbounded async queue: producers push, one consumer iterates until it is closed. */
export class EventChannel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiting: ((value: IteratorResult<T>) => void) | undefined;
  #closed = false;

  push(item: T): void {
    if (this.#closed) return;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: item, done: false });
    } else this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length) {
          return Promise.resolve({ value: this.#items.shift()!, done: false });
        }
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
    };
  }
}
