/**
 * power in the same process: the agent calls the engine's chat API directly, with no HTTP hop
 * (how serve's default agent reaches the default model).
 */
import type { ChatParams, CompletionChunk, CompletionOutcome } from "@a3s/power";
import type { ChatRequest, LlmProvider, Message, ProviderEvent } from "../llm/types.ts";

/** The part of power's `Power` service this provider uses. */
export interface PowerChat {
  chat(params: ChatParams): AsyncGenerator<CompletionChunk, CompletionOutcome>;
}

function toPower(messages: Message[]): ChatParams["messages"] {
  return messages.map((m) => {
    if (m.role === "assistant") {
      return {
        role: "assistant" as const,
        content: m.content,
        ...(m.toolCalls?.length
          ? {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          }
          : {}),
      };
    }
    if (m.role === "tool") {
      return {
        role: "tool" as const,
        content: m.content,
        tool_call_id: m.toolCallId,
        name: m.name,
      };
    }
    return { role: m.role, content: m.content };
  });
}

/**
 * Streams from an in-process power engine.
 *
 * @example
 * ```ts ignore
 * import { Power } from "@a3s/power";
 * const llm = new PowerProvider(new Power({ home: "/tmp/a3s" }));
 * ```
 */
export class PowerProvider implements LlmProvider {
  readonly name: string;
  constructor(private readonly power: PowerChat, name = "power") {
    this.name = name;
  }

  async *stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    const generator = this.power.chat({
      model: request.model,
      messages: toPower(request.messages),
      tools: request.toolChoice === "none" ? undefined : request.tools?.map((t) => ({
        type: "function" as const,
        function: { name: t.name, description: t.description, parameters: t.parameters },
      })),
      toolChoice: request.toolChoice,
      format: request.responseSchema?.schema,
      maxTokens: request.maxTokens,
      sampling: request.temperature === undefined
        ? undefined
        : { temperature: request.temperature },
      signal: request.signal,
    });
    let outcome: CompletionOutcome;
    while (true) {
      const next = await generator.next();
      if (next.done) {
        outcome = next.value;
        break;
      }
      if (next.value.text) yield { type: "text", delta: next.value.text };
    }
    // power parses tool calls from the whole output, so they arrive after the visible text.
    for (const [i, call] of outcome.toolCalls.entries()) {
      yield {
        type: "tool_call",
        call: {
          id: `call_${crypto.randomUUID().slice(0, 8)}_${i}`,
          name: call.name,
          arguments: call.arguments,
        },
      };
    }
    yield {
      type: "usage",
      usage: {
        inputTokens: outcome.result.promptTokens,
        outputTokens: outcome.result.completionTokens,
      },
    };
    yield {
      type: "done",
      stopReason: outcome.toolCalls.length ? "tool_calls" : outcome.result.finishReason,
    };
  }
}
