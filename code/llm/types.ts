/** The provider-neutral conversation and the contract every LLM provider meets. */

/** A tool call the model asked for. `arguments` is the parsed JSON object. */
export interface ToolCall {
  /** The provider's id for the call; the tool result answers to it. */
  id: string;
  /** The name of the tool to run. */
  name: string;
  /** The parsed arguments; empty when they were not a JSON object. */
  arguments: Record<string, unknown>;
  /** Set when the model's arguments were not a JSON object; the tool reports it back. */
  invalidArguments?: string;
}

/** One message of a conversation, provider-neutral. */
export type Message =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; name: string; content: string; isError?: boolean };

/** What the model sees of a tool: its name, purpose and JSON Schema input. */
export interface ToolSpec {
  /** The tool's name, unique among the tools of a request. */
  name: string;
  /** What the tool does and when to use it, for the model. */
  description: string;
  /** The JSON Schema of the tool's input object. */
  parameters: Record<string, unknown>;
}

/** Token counts of one model call. */
export interface Usage {
  /** Prompt tokens read. */
  inputTokens: number;
  /** Reply tokens generated. */
  outputTokens: number;
}

/** One model request. */
export interface ChatRequest {
  /** The model id as the provider knows it. */
  model: string;
  /** The conversation so far, system prompt first. */
  messages: Message[];
  /** The tools the model may call. */
  tools?: ToolSpec[];
  /** `auto` (default), `required` (must call a tool), `none`. */
  toolChoice?: "auto" | "required" | "none";
  /** Constrain the reply to JSON matching this schema. */
  responseSchema?: { name: string; schema: Record<string, unknown> };
  /** The most tokens the reply may take. */
  maxTokens?: number;
  /** Sampling temperature; the provider's default when unset. */
  temperature?: number;
  /** Aborts the request and its stream. */
  signal?: AbortSignal;
}

/** What a provider streams. A stream ends with exactly one `done`. */
export type ProviderEvent =
  | { type: "text"; delta: string }
  | { type: "tool_call"; call: ToolCall }
  | { type: "usage"; usage: Usage }
  | { type: "done"; stopReason: string };

/** An LLM endpoint speaking some wire format. */
export interface LlmProvider {
  /** The provider's name, used in errors and logs. */
  readonly name: string;
  /** Sends a request and streams the reply as events, ending with one `done`. */
  stream(request: ChatRequest): AsyncIterable<ProviderEvent>;
}

/** A provider error with the HTTP status (0 for network failures), to decide retries. */
export class ProviderError extends Error {
  /** A failure of `provider`: `status` is the HTTP status (0 for network failures), `retryable` whether trying again may help. */
  constructor(
    readonly provider: string,
    readonly status: number,
    message: string,
    readonly retryable: boolean,
  ) {
    super(`${provider}: ${message}`);
    this.name = "ProviderError";
  }
}

/** True for failures worth another attempt: network errors, 408, 409, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Collects a whole reply from a stream. */
export async function collect(
  stream: AsyncIterable<ProviderEvent>,
): Promise<{ text: string; toolCalls: ToolCall[]; usage: Usage; stopReason: string }> {
  let text = "";
  const toolCalls: ToolCall[] = [];
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let stopReason = "stop";
  for await (const event of stream) {
    if (event.type === "text") text += event.delta;
    else if (event.type === "tool_call") toolCalls.push(event.call);
    else if (event.type === "usage") {
      usage.inputTokens += event.usage.inputTokens;
      usage.outputTokens += event.usage.outputTokens;
    } else stopReason = event.stopReason;
  }
  return { text, toolCalls, usage, stopReason };
}

/** Parses a tool call's JSON arguments, keeping the raw text when they are not an object. */
export function toolCallFrom(id: string, name: string, raw: string): ToolCall {
  const text = raw.trim() === "" ? "{}" : raw;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return { id, name, arguments: parsed as Record<string, unknown> };
    }
  } catch { /* reported below */ }
  return { id, name, arguments: {}, invalidArguments: raw };
}

/** Runs `attempt` until it succeeds or a non-retryable error; the agent passes lane's runner. */
export type RetryRunner = <T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  options: { maxAttempts: number; delayMs: number; signal?: AbortSignal },
) => Promise<T>;
