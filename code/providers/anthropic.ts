/** The Anthropic Messages API: streaming text and tool use over its SSE event stream. */
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

/** How to reach a Messages API endpoint. */
export interface AnthropicProviderOptions {
  /** The provider's name in errors and logs (default `anthropic`). */
  name?: string;
  /** Without `/v1`, such as `https://api.anthropic.com`. */
  baseUrl?: string;
  /** The API key, sent as `x-api-key`; none when the endpoint needs none. */
  apiKey?: string;
  /** Attempts per request, the first included (default 3). */
  maxAttempts?: number;
  /** Base delay between attempts, in milliseconds (default 500). */
  retryDelayMs?: number;
  /** How long one attempt may take, in milliseconds (default 120000). */
  timeoutMs?: number;
  /** Runs each request with retries (such as `laneRetryRunner`); one attempt when unset. */
  retry?: RetryRunner;
}

type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean };

interface WireMessage {
  role: "user" | "assistant";
  content: Block[];
}

/** Messages has no system or tool roles: system goes aside, tool results become user blocks. */
function toWire(messages: Message[]): { system: string; messages: WireMessage[] } {
  const system: string[] = [];
  const out: WireMessage[] = [];
  const push = (role: "user" | "assistant", block: Block) => {
    const last = out[out.length - 1];
    if (last?.role === role) last.content.push(block);
    else out.push({ role, content: [block] });
  };
  for (const m of messages) {
    if (m.role === "system") system.push(m.content);
    else if (m.role === "user") push("user", { type: "text", text: m.content });
    else if (m.role === "tool") {
      push("user", {
        type: "tool_result",
        tool_use_id: m.toolCallId,
        content: m.content,
        is_error: m.isError || undefined,
      });
    } else {
      if (m.content) push("assistant", { type: "text", text: m.content });
      for (const c of m.toolCalls ?? []) {
        push("assistant", { type: "tool_use", id: c.id, name: c.name, input: c.arguments });
      }
    }
  }
  return { system: system.join("\n\n"), messages: out };
}

const Usage = z.object({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
});

/** The fields of a streamed event the provider reads, with their types. */
const StreamEvent = z.object({
  type: z.string(),
  index: z.number().int().min(0).optional(),
  message: z.object({ usage: Usage.optional() }).optional(),
  content_block: z.object({
    type: z.string(),
    id: z.string().optional(),
    name: z.string().optional(),
    text: z.string().optional(),
  }).optional(),
  delta: z.object({
    type: z.string().optional(),
    text: z.string().optional(),
    partial_json: z.string().optional(),
    stop_reason: z.string().nullable().optional(),
  }).optional(),
  usage: Usage.optional(),
  error: z.object({ type: z.string().optional(), message: z.string().optional() }).optional(),
});

/**
 * Streams from the Anthropic Messages API. A `responseSchema` becomes a forced tool whose
 * input is returned as the reply's JSON text.
 *
 * @example
 * ```ts
 * import { AnthropicProvider } from "./anthropic.ts";
 * const claude = new AnthropicProvider({ apiKey: "sk-ant-..." });
 * ```
 */
export class AnthropicProvider implements LlmProvider {
  /** The provider's name, from the options. */
  readonly name: string;
  readonly #options: AnthropicProviderOptions;

  /** A provider for the Anthropic Messages API endpoint described by `options`. */
  constructor(options: AnthropicProviderOptions = {}) {
    this.name = options.name ?? "anthropic";
    this.#options = options;
  }

  /** Sends the request and streams the reply as provider events, retrying failures that may pass. */
  async *stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    const o = this.#options;
    const { system, messages } = toWire(request.messages);
    const body: Record<string, unknown> = {
      model: request.model,
      max_tokens: request.maxTokens ?? 4096,
      messages,
      stream: true,
    };
    if (system) body.system = system;
    if (request.temperature !== undefined) body.temperature = request.temperature;
    const tools = (request.toolChoice === "none" ? [] : request.tools ?? []).map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.parameters,
    }));
    const schemaTool = request.responseSchema?.name;
    if (request.responseSchema) {
      tools.push({
        name: request.responseSchema.name,
        description: "Answer with this structure.",
        input_schema: request.responseSchema.schema,
      });
      body.tool_choice = { type: "tool", name: request.responseSchema.name };
    } else if (tools.length && request.toolChoice === "required") {
      body.tool_choice = { type: "any" };
    }
    if (tools.length) body.tools = tools;

    const url = `${(o.baseUrl ?? "https://api.anthropic.com").replace(/\/$/, "")}/v1/messages`;
    const response = await postChat({
      provider: this.name,
      url,
      headers: {
        "anthropic-version": "2023-06-01",
        ...(o.apiKey ? { "x-api-key": o.apiKey } : {}),
      },
      body,
      signal: request.signal,
      retry: o.retry,
      maxAttempts: o.maxAttempts ?? 3,
      retryDelayMs: o.retryDelayMs ?? 500,
      timeoutMs: o.timeoutMs ?? 120_000,
    });

    const blocks = new Map<number, { kind: string; id: string; name: string; json: string }>();
    let inputTokens = 0;
    let outputTokens = 0;
    let stopReason = "end_turn";
    for await (const sse of readSse(response.body!)) {
      const parsed = parseEventData(StreamEvent, sse.data);
      if (!parsed.ok) {
        throw new ProviderError(this.name, 200, `bad event: ${parsed.problem}`, false);
      }
      const event = parsed.value;
      switch (event.type) {
        case "message_start":
          inputTokens = event.message?.usage?.input_tokens ?? 0;
          outputTokens = event.message?.usage?.output_tokens ?? 0;
          break;
        case "content_block_start": {
          const b = event.content_block;
          if (!b || event.index === undefined) {
            throw new ProviderError(
              this.name,
              200,
              "bad event: a block start without its block",
              false,
            );
          }
          blocks.set(event.index, { kind: b.type, id: b.id ?? "", name: b.name ?? "", json: "" });
          if (b.type === "text" && b.text) yield { type: "text", delta: b.text };
          break;
        }
        case "content_block_delta": {
          const d = event.delta;
          if (!d) {
            throw new ProviderError(this.name, 200, "bad event: a delta without its delta", false);
          }
          if (d.type === "text_delta" && d.text) yield { type: "text", delta: d.text };
          else if (d.type === "input_json_delta") {
            const block = blocks.get(event.index ?? -1);
            if (block) block.json += d.partial_json ?? "";
          }
          break;
        }
        case "content_block_stop": {
          const block = blocks.get(event.index ?? -1);
          if (block?.kind === "tool_use") {
            if (block.name === schemaTool) yield { type: "text", delta: block.json || "{}" };
            else yield { type: "tool_call", call: toolCallFrom(block.id, block.name, block.json) };
          }
          break;
        }
        case "message_delta":
          if (event.delta?.stop_reason) stopReason = event.delta.stop_reason;
          if (event.usage?.output_tokens !== undefined) outputTokens = event.usage.output_tokens;
          break;
        case "error":
          throw new ProviderError(
            this.name,
            200,
            `${event.error?.type ?? "error"}: ${event.error?.message ?? ""}`,
            event.error?.type === "overloaded_error",
          );
      }
    }
    yield { type: "usage", usage: { inputTokens, outputTokens } };
    yield {
      type: "done",
      stopReason: schemaTool && stopReason === "tool_use" ? "end_turn" : stopReason,
    };
  }
}
