/** The OpenAI Chat Completions wire format: power, Ollama, vLLM, OpenAI and friends. */
import { z } from "zod";
import { parseEventData, readSse } from "../llm/sse.ts";
import {
  type ChatRequest,
  type LlmProvider,
  type Message,
  ProviderError,
  type ProviderEvent,
  type RetryRunner,
  toolCallFrom,
} from "../llm/types.ts";
import { postChat } from "./_post.ts";

/** How to reach an OpenAI-compatible endpoint. */
export interface OpenAiProviderOptions {
  /** The provider's name in errors and logs (default `openai`). */
  name?: string;
  /** Up to and including `/v1`, such as `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** The API key, sent as a bearer token; none when the endpoint needs none. */
  apiKey?: string;
  /** Attempts per request, the first included (default 3). */
  maxAttempts?: number;
  /** Base delay between attempts, in milliseconds (default 250). */
  retryDelayMs?: number;
  /** How long one attempt may take, in milliseconds (default 120000). */
  timeoutMs?: number;
  /** Runs each request with retries (such as `laneRetryRunner`); one attempt when unset. */
  retry?: RetryRunner;
}

interface WireMessage {
  role: string;
  content: string | null;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  name?: string;
}

function toWire(messages: Message[]): WireMessage[] {
  return messages.map((m): WireMessage => {
    switch (m.role) {
      case "assistant":
        return {
          role: "assistant",
          content: m.content || (m.toolCalls?.length ? null : ""),
          ...(m.toolCalls?.length
            ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: "function" as const,
                function: {
                  name: c.name,
                  arguments: c.invalidArguments ?? JSON.stringify(c.arguments),
                },
              })),
            }
            : {}),
        };
      case "tool":
        return { role: "tool", content: m.content, tool_call_id: m.toolCallId, name: m.name };
      default:
        return { role: m.role, content: m.content };
    }
  });
}

/** The fields of a streamed chunk the provider reads, with their types. */
const StreamChunk = z.object({
  choices: z.array(z.object({
    delta: z.object({
      content: z.string().nullable().optional(),
      tool_calls: z.array(z.object({
        index: z.number().int().min(0).optional(),
        id: z.string().optional(),
        function: z.object({ name: z.string().optional(), arguments: z.string().optional() })
          .optional(),
      })).nullable().optional(),
    }).nullable().optional(),
    finish_reason: z.string().nullable().optional(),
  })).optional(),
  usage: z.object({
    prompt_tokens: z.number().optional(),
    completion_tokens: z.number().optional(),
  }).nullable().optional(),
  error: z.object({ message: z.string().optional() }).optional(),
});

/**
 * Streams chat completions with tool calls from an OpenAI-compatible server.
 *
 * @example
 * ```ts
 * import { OpenAiProvider } from "./openai.ts";
 * const power = new OpenAiProvider({ baseUrl: "http://127.0.0.1:11434/v1" });
 * ```
 */
export class OpenAiProvider implements LlmProvider {
  /** The provider's name, from the options. */
  readonly name: string;
  readonly #options: OpenAiProviderOptions;

  /** A provider for the OpenAI-compatible chat-completions endpoint described by `options`. */
  constructor(options: OpenAiProviderOptions) {
    this.name = options.name ?? "openai";
    this.#options = options;
  }

  /** Sends the request and streams the reply as provider events, retrying failures that may pass. */
  async *stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    const o = this.#options;
    const body: Record<string, unknown> = {
      model: request.model,
      messages: toWire(request.messages),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.maxTokens) body.max_tokens = request.maxTokens;
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.tools?.length && request.toolChoice !== "none") {
      body.tools = request.tools.map((t) => ({
        type: "function",
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
      body.tool_choice = request.toolChoice ?? "auto";
    }
    if (request.responseSchema) {
      body.response_format = {
        type: "json_schema",
        json_schema: {
          name: request.responseSchema.name,
          schema: request.responseSchema.schema,
          strict: true,
        },
      };
    }
    const url = `${o.baseUrl.replace(/\/$/, "")}/chat/completions`;
    const response = await postChat({
      provider: this.name,
      url,
      headers: {
        accept: "text/event-stream",
        ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}),
      },
      body,
      signal: request.signal,
      retry: o.retry,
      maxAttempts: o.maxAttempts ?? 3,
      retryDelayMs: o.retryDelayMs ?? 250,
      timeoutMs: o.timeoutMs ?? 120_000,
    });

    const pending = new Map<number, { id: string; name: string; args: string }>();
    let stopReason = "stop";
    let sawUsage = false;
    for await (const event of readSse(response.body!)) {
      if (event.data === "[DONE]") break;
      const parsed = parseEventData(StreamChunk, event.data);
      if (!parsed.ok) {
        throw new ProviderError(this.name, 200, `bad stream chunk: ${parsed.problem}`, false);
      }
      const chunk = parsed.value;
      if (chunk.error) {
        throw new ProviderError(this.name, 200, chunk.error.message ?? "stream error", false);
      }
      for (const choice of chunk.choices ?? []) {
        const delta = choice.delta;
        if (delta?.content) yield { type: "text", delta: delta.content };
        for (const part of delta?.tool_calls ?? []) {
          const index = part.index ?? pending.size;
          const entry = pending.get(index) ?? { id: "", name: "", args: "" };
          if (part.id) entry.id = part.id;
          if (part.function?.name) entry.name += part.function.name;
          if (part.function?.arguments) entry.args += part.function.arguments;
          pending.set(index, entry);
        }
        if (choice.finish_reason) stopReason = choice.finish_reason;
      }
      if (chunk.usage) {
        sawUsage = true;
        yield {
          type: "usage",
          usage: {
            inputTokens: chunk.usage.prompt_tokens ?? 0,
            outputTokens: chunk.usage.completion_tokens ?? 0,
          },
        };
      }
    }
    for (const [index, entry] of [...pending.entries()].sort((a, b) => a[0] - b[0])) {
      yield {
        type: "tool_call",
        call: toolCallFrom(entry.id || `call_${index}`, entry.name, entry.args),
      };
    }
    if (!sawUsage) yield { type: "usage", usage: { inputTokens: 0, outputTokens: 0 } };
    yield { type: "done", stopReason: pending.size ? "tool_calls" : stopReason };
  }
}
