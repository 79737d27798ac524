/** A provider that replays recorded replies: deterministic agent tests and benchmarks. */
import type { ChatRequest, LlmProvider, ProviderEvent, ToolCall } from "./types.ts";

/** One recorded model reply. */
export interface ScriptedReply {
  /** The reply's text, streamed in small deltas. */
  text?: string;
  /** Tool calls the reply makes; ids are generated when omitted. */
  toolCalls?: { id?: string; name: string; arguments: Record<string, unknown> }[];
  /** Milliseconds before the reply starts, to model a slow model. */
  delayMs?: number;
}

/** A reply, or a function that picks one from the request (to react to tool results). */
export type ScriptStep = ScriptedReply | ((request: ChatRequest) => ScriptedReply);

let counter = 0;

/** Streams one reply as provider events, text in small deltas as a real model would. */
export async function* replyEvents(
  reply: ScriptedReply,
  signal?: AbortSignal,
): AsyncGenerator<ProviderEvent> {
  if (reply.delayMs) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, reply.delayMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  }
  const text = reply.text ?? "";
  for (let i = 0; i < text.length; i += 16) {
    signal?.throwIfAborted();
    yield { type: "text", delta: text.slice(i, i + 16) };
  }
  for (const c of reply.toolCalls ?? []) {
    const call: ToolCall = {
      id: c.id ?? `call_${++counter}`,
      name: c.name,
      arguments: c.arguments,
    };
    yield { type: "tool_call", call };
  }
  yield { type: "usage", usage: { inputTokens: 10, outputTokens: Math.ceil(text.length / 4) + 1 } };
  yield { type: "done", stopReason: reply.toolCalls?.length ? "tool_calls" : "stop" };
}

/**
 * Replays `steps` in order, one per model call; the last step repeats when the script runs out.
 * Every request is kept in `requests` for assertions.
 *
 * @example
 * ```ts
 * import { ScriptedProvider } from "./scripted.ts";
 * const llm = new ScriptedProvider([
 *   { toolCalls: [{ name: "ls", arguments: { path: "." } }] },
 *   { text: "done" },
 * ]);
 * ```
 */
export class ScriptedProvider implements LlmProvider {
  /** The provider's name, `scripted`. */
  readonly name = "scripted";
  /** Every request received, in order (messages snapshotted), for tests to inspect. */
  readonly requests: ChatRequest[] = [];
  #next = 0;

  /** Replays `steps` in order, one per request; the last one repeats once they run out. */
  constructor(private readonly steps: ScriptStep[]) {}

  /** Streams the next scripted reply, recording the request. */
  stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    // Sessions keep appending to their message array, so keep a snapshot.
    this.requests.push({ ...request, messages: [...request.messages] });
    const step = this.steps[Math.min(this.#next++, this.steps.length - 1)];
    const reply = typeof step === "function" ? step(request) : step;
    return replyEvents(reply, request.signal);
  }
}
