/**
 * LLM token metering for OpenAI- and Ollama-shaped routes: counts prompt and completion tokens
 * per caller and model from the response's usage fields (JSON, SSE or NDJSON streams), or with
 * the WebAssembly tokenizer when a stream carries none, and enforces per-caller quotas over a
 * sliding minute and a UTC day.
 */
import { Counter, type Registry } from "prom-client";

/** Tokens one response used. */
export interface TokenCount {
  /** The model the response names (or the request asked for). */
  model: string;
  /** Prompt tokens. */
  prompt: number;
  /** Completion tokens. */
  completion: number;
  /** Whether the counts came from the tokenizer rather than the response's usage fields. */
  estimated: boolean;
}

/** One row of usage: a caller and a model. */
export interface UsageRow {
  /** The caller: API key name, user or JWT subject, or `ip:<addr>` when anonymous. */
  key: string;
  /** The model. */
  model: string;
  /** Prompt tokens so far. */
  prompt: number;
  /** Completion tokens so far. */
  completion: number;
  /** Requests counted. */
  requests: number;
}

/** Counts text tokens; the gateway uses the WebAssembly cl100k tokenizer. */
export type TextCounter = (text: string) => number;

interface Parsed {
  model?: string;
  prompt?: number;
  completion?: number;
  text: string;
}

function fromObject(o: Record<string, unknown>, into: Parsed): void {
  if (typeof o.model === "string") into.model = o.model;
  const usage = o.usage as Record<string, unknown> | undefined;
  if (usage && typeof usage.prompt_tokens === "number") into.prompt = usage.prompt_tokens;
  if (usage && typeof usage.completion_tokens === "number") {
    into.completion = usage.completion_tokens;
  }
  if (typeof o.prompt_eval_count === "number") into.prompt = o.prompt_eval_count;
  if (typeof o.eval_count === "number") into.completion = o.eval_count;
  // Completion text, for when no usage arrives: OpenAI chunks and messages, Ollama lines.
  for (const choice of (o.choices as Record<string, unknown>[] | undefined) ?? []) {
    const delta = (choice.delta ?? choice.message) as { content?: unknown } | undefined;
    if (typeof delta?.content === "string") into.text += delta.content;
    if (typeof choice.text === "string") into.text += choice.text;
  }
  const message = o.message as { content?: unknown } | undefined;
  if (typeof message?.content === "string") into.text += message.content;
  if (typeof o.response === "string") into.text += o.response;
}

/** Reads usage from a response body: one JSON document, SSE `data:` lines or NDJSON lines. */
export function parseUsage(contentType: string, body: string): Parsed {
  const parsed: Parsed = { text: "" };
  const lines = contentType.includes("text/event-stream")
    ? body.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
    : contentType.includes("ndjson")
    ? body.split("\n")
    : [body];
  for (const line of lines) {
    if (!line || line === "[DONE]") continue;
    try {
      const value = JSON.parse(line);
      if (value && typeof value === "object") fromObject(value as Record<string, unknown>, parsed);
    } catch {
      // Not JSON (an error page, a comment): nothing to count.
    }
  }
  return parsed;
}

/** The prompt text and model of an OpenAI or Ollama request body. */
export function parseRequest(body: string): { model?: string; text: string } {
  try {
    const o = JSON.parse(body) as Record<string, unknown>;
    const messages = (o.messages as { content?: unknown }[] | undefined) ?? [];
    const parts = messages.map((m) => (typeof m.content === "string" ? m.content : ""));
    if (typeof o.prompt === "string") parts.push(o.prompt);
    return { model: typeof o.model === "string" ? o.model : undefined, text: parts.join("\n") };
  } catch {
    return { text: "" };
  }
}

/** Per-caller quotas. */
export interface Quota {
  /** Tokens per sliding minute. */
  perMinute?: number;
  /** Tokens per UTC day. */
  perDay?: number;
}

/** Usage totals and quota windows, kept across config reloads. */
export class TokenMeter {
  readonly #rows = new Map<string, UsageRow>();
  readonly #minute = new Map<string, { at: number; tokens: number }[]>();
  readonly #day = new Map<string, { day: string; tokens: number }>();
  readonly #counter?: Counter<"key" | "model" | "kind">;
  readonly #now: () => number;

  /** `registry` receives `gateway_llm_tokens_total{key,model,kind}`. */
  constructor(registry?: Registry, now: () => number = Date.now) {
    this.#now = now;
    if (registry) {
      this.#counter = (registry.getSingleMetric("gateway_llm_tokens_total") as
        | Counter<"key" | "model" | "kind">
        | undefined) ?? new Counter({
        name: "gateway_llm_tokens_total",
        help: "LLM tokens through the gateway, by caller, model and kind (prompt, completion)",
        labelNames: ["key", "model", "kind"],
        registers: [registry],
      });
    }
  }

  /** Adds one response's tokens to `key`'s totals and windows. */
  record(key: string, count: TokenCount): void {
    const id = `${key}\u0000${count.model}`;
    const row = this.#rows.get(id) ??
      { key, model: count.model, prompt: 0, completion: 0, requests: 0 };
    row.prompt += count.prompt;
    row.completion += count.completion;
    row.requests++;
    this.#rows.set(id, row);
    const tokens = count.prompt + count.completion;
    const now = this.#now();
    const minute = this.#window(key, now);
    minute.push({ at: now, tokens });
    const day = new Date(now).toISOString().slice(0, 10);
    const d = this.#day.get(key);
    this.#day.set(key, d && d.day === day ? { day, tokens: d.tokens + tokens } : { day, tokens });
    this.#counter?.inc({ key, model: count.model, kind: "prompt" }, count.prompt);
    this.#counter?.inc({ key, model: count.model, kind: "completion" }, count.completion);
  }

  /** Seconds until `key` is under `quota` again, or 0 when it may go ahead now. */
  retryAfter(key: string, quota: Quota): number {
    const now = this.#now();
    if (quota.perMinute !== undefined) {
      const minute = this.#window(key, now);
      const used = minute.reduce((sum, e) => sum + e.tokens, 0);
      if (used >= quota.perMinute) {
        // Wait until enough of the window's oldest entries age out.
        let freed = used;
        for (const e of minute) {
          freed -= e.tokens;
          if (freed < quota.perMinute) return Math.max(1, Math.ceil((e.at + 60_000 - now) / 1000));
        }
      }
    }
    if (quota.perDay !== undefined) {
      const d = this.#day.get(key);
      const today = new Date(now).toISOString().slice(0, 10);
      if (d && d.day === today && d.tokens >= quota.perDay) {
        const midnight = Date.parse(`${today}T00:00:00Z`) + 86_400_000;
        return Math.max(1, Math.ceil((midnight - now) / 1000));
      }
    }
    return 0;
  }

  /** Totals per caller and model. */
  usage(): UsageRow[] {
    return [...this.#rows.values()].map((r) => ({ ...r }));
  }

  #window(key: string, now: number): { at: number; tokens: number }[] {
    const entries = (this.#minute.get(key) ?? []).filter((e) => now - e.at < 60_000);
    this.#minute.set(key, entries);
    return entries;
  }
}

/**
 * The token count of one exchange: usage fields when the response has them, else the
 * tokenizer over the prompt and completion text.
 */
export function countExchange(
  requestBody: string,
  contentType: string,
  responseBody: string,
  counter: TextCounter,
): TokenCount | undefined {
  const response = parseUsage(contentType, responseBody);
  const request = parseRequest(requestBody);
  const model = response.model ?? request.model;
  if (!model) return undefined;
  const estimated = response.prompt === undefined || response.completion === undefined;
  return {
    model,
    prompt: response.prompt ?? counter(request.text),
    completion: response.completion ?? counter(response.text),
    estimated,
  };
}
