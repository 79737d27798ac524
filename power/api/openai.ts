/** OpenAI's API: chat completions, completions, embeddings and models under `/v1`. */
import { createRoute, type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { createRouter, NotFoundError, ValidationError } from "@a3s/common";
import type { CompletionOutcome, CompletionParams, Power, ToolChoice } from "../service.ts";
import type { ChatMessage } from "../engine/chat_template.ts";
import type { TokenEvent } from "../engine/generate.ts";
import {
  ChatBody,
  type ChatRequest,
  CompletionBody,
  type CompletionRequest,
  type Content,
  EmbeddingBody,
  type SamplingRequest,
} from "./openai_schemas.ts";
import {
  clientGone,
  type CompletionStream,
  drainStream,
  finishReason,
  primeStream,
  requestAbort,
  sse,
  type Write,
} from "./_stream.ts";

const FINGERPRINT = "fp_a3s_power";
/** Legacy completions generate this many tokens when `max_tokens` is left out, as OpenAI's. */
const DEFAULT_COMPLETION_TOKENS = 16;
/** The hex digits of a response id after its prefix (`chatcmpl-...`). */
const ID_DIGITS = 24;
/** The digits of a response id that a tool call id reuses. */
const CALL_ID_DIGITS = 8;

function post<S extends z.ZodType, P extends string>(path: P, schema: S, summary: string) {
  return createRoute({
    method: "post",
    path,
    summary,
    tags: ["openai"],
    request: { body: { content: { "application/json": { schema } }, required: true } },
    responses: { 200: { description: "JSON, or server-sent events when `stream` is true" } },
  });
}

const chatRoute = post("/v1/chat/completions", ChatBody, "Create a chat completion");
const completionRoute = post("/v1/completions", CompletionBody, "Create a completion");
const embeddingRoute = post("/v1/embeddings", EmbeddingBody, "Create embeddings");
const listModelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "List models",
  tags: ["openai"],
  responses: { 200: { description: "JSON" } },
});
const getModelRoute = createRoute({
  method: "get",
  path: "/v1/models/{id}",
  summary: "Retrieve a model",
  tags: ["openai"],
  request: { params: z.object({ id: z.string().min(1) }) },
  responses: { 200: { description: "JSON" } },
});

function sampling(
  body: SamplingRequest,
  choice: number,
): Pick<CompletionParams, "sampling" | "stop"> {
  return {
    sampling: {
      // OpenAI's defaults: temperature 1, no top-k, no repeat penalty.
      temperature: body.temperature ?? 1,
      topP: body.top_p ?? 1,
      topK: body.top_k ?? 0,
      minP: body.min_p ?? 0,
      repeatPenalty: body.repeat_penalty ?? 1,
      presencePenalty: body.presence_penalty ?? 0,
      frequencyPenalty: body.frequency_penalty ?? 0,
      // Each choice gets its own seed, so `n` choices with a seed differ yet repeat.
      seed: body.seed === null || body.seed === undefined ? undefined : body.seed + choice,
    },
    stop: typeof body.stop === "string" ? [body.stop] : body.stop ?? undefined,
  };
}

function text(content: z.infer<typeof Content>): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  const other = content.find((p) => p.type !== "text");
  if (other) {
    throw new ValidationError(
      `messages: content parts of type '${other.type}' are not supported`,
      "messages",
    );
  }
  return content.map((p) => p.text ?? "").join("");
}

function messagesOf(body: ChatRequest): ChatMessage[] {
  return body.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: text(m.content),
    name: m.name,
    tool_call_id: m.tool_call_id,
    tool_calls: m.tool_calls?.map((t) => ({
      id: t.id,
      type: "function" as const,
      // The request schema has checked it is JSON, and not too deep.
      function: { name: t.function.name, arguments: JSON.parse(t.function.arguments) },
    })),
  }));
}

function toolChoiceOf(body: ChatRequest): ToolChoice | undefined {
  const choice = body.tool_choice;
  return typeof choice === "object" && choice
    ? { name: choice.function.name }
    : choice ?? undefined;
}

/** The structured-output format `response_format` asks for, and the field that named it. */
function formatOf(
  body: ChatRequest,
): Pick<CompletionParams, "format" | "formatField" | "formatStrict"> {
  const rf = body.response_format;
  if (rf?.type === "json_object") return { format: "json", formatField: "response_format" };
  if (rf?.type === "json_schema") {
    return {
      format: rf.json_schema.schema ?? { type: "object" },
      formatField: "response_format.json_schema.schema",
      formatStrict: rf.json_schema.strict !== false,
    };
  }
  return {};
}

function bytesOf(s: string): number[] {
  return Array.from(new TextEncoder().encode(s));
}

function chatLogprobs(events: TokenEvent[]) {
  return {
    content: events.map((e) => ({
      token: e.tokenText,
      logprob: e.logprob ?? 0,
      bytes: bytesOf(e.tokenText),
      top_logprobs: (e.top ?? []).map((t) => ({
        token: t.text,
        logprob: t.logprob,
        bytes: bytesOf(t.text),
      })),
    })),
    refusal: null,
  };
}

function completionLogprobs(events: TokenEvent[], offset: number) {
  let at = offset;
  return {
    tokens: events.map((e) => e.tokenText),
    token_logprobs: events.map((e) => e.logprob ?? 0),
    top_logprobs: events.map((e) =>
      Object.fromEntries((e.top ?? []).map((t) => [t.text, t.logprob]))
    ),
    text_offset: events.map((e) => {
      const here = at;
      at += e.tokenText.length;
      return here;
    }),
  };
}

function toolCallsOf(outcome: CompletionOutcome, id: string) {
  return outcome.toolCalls.map((call, i) => ({
    id: `call_${id.slice(-CALL_ID_DIGITS)}${i}`,
    type: "function" as const,
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  }));
}

/**
 * Token usage of `outcomes`, produced in prompt-major order with `n` choices per prompt: each
 * prompt's tokens count once, however many choices it had.
 */
function usage(outcomes: CompletionOutcome[], n: number) {
  let prompt = 0;
  let completion = 0;
  outcomes.forEach((o, i) => {
    if (i % n === 0) prompt += o.result.promptTokens;
    completion += o.result.completionTokens;
  });
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll("-", "").slice(0, ID_DIGITS)}`;
}

const seconds = () => Math.floor(Date.now() / 1000);

/** What one chat request's choices share: the id, the clock, and how to start choice `i`. */
interface ChatJob {
  id: string;
  created: number;
  n: number;
  body: ChatRequest;
  start(choice: number): CompletionStream;
}

function chatJob(power: Power, body: ChatRequest, signal: AbortSignal): ChatJob {
  const messages = messagesOf(body);
  return {
    id: newId("chatcmpl"),
    created: seconds(),
    n: body.n ?? 1,
    body,
    start: (choice) =>
      power.chat({
        model: body.model,
        messages,
        tools: body.tools ?? undefined,
        toolChoice: toolChoiceOf(body),
        ...formatOf(body),
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
        logprobs: body.logprobs ?? false,
        topLogprobs: body.logprobs ? body.top_logprobs ?? 0 : 0,
        truncate: body.truncate,
        signal,
        ...sampling(body, choice),
      }),
  };
}

async function chatCompletion(job: ChatJob, signal: AbortSignal) {
  const outcomes: CompletionOutcome[] = [];
  const choices = [];
  for (let i = 0; i < job.n && !signal.aborted; i++) {
    const { outcome, events } = await drainStream(job.start(i));
    outcomes.push(outcome);
    const toolCalls = toolCallsOf(outcome, job.id);
    choices.push({
      index: i,
      message: {
        role: "assistant",
        content: toolCalls.length && !outcome.content ? null : outcome.content,
        refusal: null,
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
      },
      logprobs: job.body.logprobs ? chatLogprobs(events) : null,
      finish_reason: finishReason(outcome, "openai"),
    });
  }
  if (signal.aborted) return undefined;
  return {
    id: job.id,
    object: "chat.completion",
    created: job.created,
    model: outcomes[0].model,
    system_fingerprint: FINGERPRINT,
    choices,
    usage: usage(outcomes, job.n),
  };
}

/** Writes one chat chunk of choice `index`. */
function chatChunkWriter(job: ChatJob, write: Write) {
  const envelope = (choices: unknown[], extra = {}) => ({
    id: job.id,
    object: "chat.completion.chunk",
    created: job.created,
    model: job.body.model,
    system_fingerprint: FINGERPRINT,
    choices,
    ...extra,
  });
  return {
    choice: (index: number, delta: Record<string, unknown>, finish: string | null, extra = {}) =>
      write(envelope([{ index, delta, logprobs: null, finish_reason: finish, ...extra }])),
    usage: (outcomes: CompletionOutcome[]) =>
      write(envelope([], { usage: usage(outcomes, job.n) })),
  };
}

async function chatCompletionStream(job: ChatJob, controller: AbortController) {
  const first = await primeStream(job.start(0));
  const logprobs = job.body.logprobs ?? false;
  return sse(async (write) => {
    const chunks = chatChunkWriter(job, write);
    const outcomes: CompletionOutcome[] = [];
    for (let i = 0; i < job.n; i++) {
      chunks.choice(i, { role: "assistant", content: "" }, null);
      const { outcome } = await drainStream(i === 0 ? first : job.start(i), ({ text, event }) => {
        const sampled = event.token >= 0;
        if (!text && !(logprobs && sampled)) return;
        const extra = logprobs && sampled ? { logprobs: chatLogprobs([event]) } : {};
        chunks.choice(i, { content: text }, null, extra);
      });
      outcomes.push(outcome);
      const toolCalls = toolCallsOf(outcome, job.id);
      if (toolCalls.length) {
        chunks.choice(i, { tool_calls: toolCalls.map((t, index) => ({ index, ...t })) }, null);
      }
      chunks.choice(i, {}, finishReason(outcome, "openai"));
    }
    if (job.body.stream_options?.include_usage) chunks.usage(outcomes);
  }, controller);
}

function chatCompletions(power: Power): RouteHandler<typeof chatRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const controller = requestAbort(c.req.raw);
    const job = chatJob(power, body, controller.signal);
    if (body.stream) return await chatCompletionStream(job, controller);
    const completion = await chatCompletion(job, controller.signal);
    return completion ? c.json(completion) : clientGone();
  };
}

/** One generation of a legacy completion: choice `choice` of prompt `prompt`. */
interface CompletionTask {
  prompt: string;
  choice: number;
}

/** What one legacy completion request's generations share. */
interface CompletionJob {
  id: string;
  created: number;
  n: number;
  body: CompletionRequest;
  /** Prompt-major: every choice of the first prompt, then of the next. */
  tasks: CompletionTask[];
  wantLogprobs: boolean;
  start(task: CompletionTask): CompletionStream;
}

function completionJob(power: Power, body: CompletionRequest, signal: AbortSignal): CompletionJob {
  const prompts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
  const n = body.n ?? 1;
  const wantLogprobs = body.logprobs !== null && body.logprobs !== undefined;
  return {
    id: newId("cmpl"),
    created: seconds(),
    n,
    body,
    tasks: prompts.flatMap((prompt) =>
      Array.from({ length: n }, (_, choice) => ({ prompt, choice }))
    ),
    wantLogprobs,
    start: (task) =>
      power.generate({
        model: body.model,
        prompt: task.prompt,
        raw: true,
        maxTokens: body.max_tokens ?? DEFAULT_COMPLETION_TOKENS,
        logprobs: wantLogprobs,
        topLogprobs: body.logprobs ?? 0,
        truncate: body.truncate,
        signal,
        ...sampling(body, task.choice),
      }),
  };
}

async function completion(job: CompletionJob, signal: AbortSignal) {
  const outcomes: CompletionOutcome[] = [];
  const choices = [];
  for (const [index, task] of job.tasks.entries()) {
    // Many prompts times many choices is long work: stop as soon as nobody waits for it.
    if (signal.aborted) return undefined;
    const { outcome, events } = await drainStream(job.start(task));
    outcomes.push(outcome);
    const echo = job.body.echo ? task.prompt : "";
    choices.push({
      index,
      text: echo + outcome.result.text,
      logprobs: job.wantLogprobs ? completionLogprobs(events, echo.length) : null,
      finish_reason: finishReason(outcome, "openai"),
    });
  }
  if (signal.aborted) return undefined;
  return {
    id: job.id,
    object: "text_completion",
    created: job.created,
    model: outcomes[0].model,
    system_fingerprint: FINGERPRINT,
    choices,
    usage: usage(outcomes, job.n),
  };
}

async function completionStream(job: CompletionJob, controller: AbortController) {
  const first = await primeStream(job.start(job.tasks[0]));
  return sse(async (write) => {
    const envelope = (choices: unknown[], extra = {}) => ({
      id: job.id,
      object: "text_completion",
      created: job.created,
      model: job.body.model,
      system_fingerprint: FINGERPRINT,
      choices,
      ...extra,
    });
    const outcomes: CompletionOutcome[] = [];
    for (const [index, task] of job.tasks.entries()) {
      const emit = (text: string, finish: string | null, events: TokenEvent[] = []) =>
        write(envelope([{
          index,
          text,
          logprobs: job.wantLogprobs && events.length ? completionLogprobs(events, 0) : null,
          finish_reason: finish,
        }]));
      if (job.body.echo) emit(task.prompt, null);
      const stream = index === 0 ? first : job.start(task);
      const { outcome } = await drainStream(stream, ({ text, event }) => {
        if (text) emit(text, null, event.token >= 0 ? [event] : []);
      });
      outcomes.push(outcome);
      emit("", finishReason(outcome, "openai"));
    }
    if (job.body.stream_options?.include_usage) {
      write(envelope([], { usage: usage(outcomes, job.n) }));
    }
  }, controller);
}

function completions(power: Power): RouteHandler<typeof completionRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const controller = requestAbort(c.req.raw);
    const job = completionJob(power, body, controller.signal);
    if (body.stream) return await completionStream(job, controller);
    const result = await completion(job, controller.signal);
    return result ? c.json(result) : clientGone();
  };
}

/** `vector` scaled to unit length (a zero vector stays as it is). */
function unitLength(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((s, x) => s + x * x, 0)) || 1;
  return vector.map((x) => x / norm);
}

/** A little-endian float32 vector as base64, OpenAI's `encoding_format: "base64"`. */
function base64Floats(vector: number[]): string {
  const bytes = new Uint8Array(Float32Array.from(vector).buffer);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function embeddings(power: Power): RouteHandler<typeof embeddingRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const controller = requestAbort(c.req.raw);
    const result = await power.embed(body.model, inputs, { signal: controller.signal });
    if (controller.signal.aborted) return clientGone();
    return c.json({
      object: "list",
      data: result.embeddings.map((vector, index) => {
        // Matryoshka-style truncation, renormalized to unit length.
        const v = body.dimensions && body.dimensions < vector.length
          ? unitLength(vector.slice(0, body.dimensions))
          : vector;
        const embedding = body.encoding_format === "base64" ? base64Floats(v) : v;
        return { object: "embedding", index, embedding };
      }),
      model: result.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  };
}

function modelEntry(name: string, modified: Date) {
  return {
    id: name,
    object: "model",
    created: Math.floor(modified.getTime() / 1000),
    owned_by: "a3s",
  };
}

async function retrieve(power: Power, id: string) {
  const model = await power.store.get(id).catch(() => {
    throw new NotFoundError(`The model '${id}' does not exist`, "model");
  });
  return modelEntry(model.name, model.modifiedAt);
}

function listModels(power: Power): RouteHandler<typeof listModelsRoute> {
  return async (c) => {
    const models = await power.store.list();
    return c.json({ object: "list", data: models.map((m) => modelEntry(m.name, m.modifiedAt)) });
  };
}

/**
 * Mounts OpenAI's routes for `power` on a new router.
 *
 * @example
 * ```ts ignore
 * const app = openaiRoutes(power);
 * ```
 */
export function openaiRoutes(power: Power): OpenAPIHono {
  const app = createRouter();
  app.openapi(chatRoute, chatCompletions(power));
  app.openapi(completionRoute, completions(power));
  app.openapi(embeddingRoute, embeddings(power));
  app.openapi(listModelsRoute, listModels(power));
  app.openapi(getModelRoute, async (c) => c.json(await retrieve(power, c.req.valid("param").id)));
  // Namespaced names such as `org/model:tag` carry a slash the route above cannot match.
  app.get("/v1/models/:id{.+/.+}", async (c) => c.json(await retrieve(power, c.req.param("id"))));
  return app;
}
