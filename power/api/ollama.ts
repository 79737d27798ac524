/** Ollama's generation API under `/api`: generate, chat, embed; model management is beside it. */
import type { OpenAPIHono, RouteHandler, z } from "@hono/zod-openapi";
import { createRouter, ValidationError } from "@a3s/common";
import type { CompletionOutcome, CompletionParams, Power, ToolCall } from "../service.ts";
import type { ChatMessage } from "../engine/chat_template.ts";
import { normalizeName } from "../models/names.ts";
import {
  ChatBody,
  EmbedBody,
  EmbeddingsBody,
  type Format,
  GenerateBody,
  type Options,
} from "./ollama_schemas.ts";
import {
  clientGone,
  type CompletionStream,
  drainStream,
  finishReason,
  ndjson,
  primeStream,
  requestAbort,
} from "./_stream.ts";
import { modelRoutes } from "./ollama_models.ts";
import { ollamaPost } from "./_ollama_route.ts";

const generateRoute = ollamaPost("/api/generate", GenerateBody, "Generate a completion", true);
const chatRoute = ollamaPost("/api/chat", ChatBody, "Chat with a model", true);
const embedRoute = ollamaPost("/api/embed", EmbedBody, "Embed text");
const embeddingsRoute = ollamaPost("/api/embeddings", EmbeddingsBody, "Embed text (legacy)");

function refuseImages(model: string, field: string): never {
  throw new ValidationError(`${field}: model '${model}' does not take images`, field);
}

function sampling(
  options: z.infer<typeof Options> | undefined,
): Pick<CompletionParams, "sampling" | "maxTokens" | "stop" | "contextLength"> {
  const o = options ?? {};
  return {
    sampling: {
      temperature: o.temperature,
      topK: o.top_k,
      topP: o.top_p,
      minP: o.min_p,
      repeatPenalty: o.repeat_penalty,
      repeatLastN: o.repeat_last_n,
      presencePenalty: o.presence_penalty,
      frequencyPenalty: o.frequency_penalty,
      seed: o.seed,
    },
    // Ollama reads a negative num_predict as "no limit" (the context still bounds it).
    maxTokens: o.num_predict !== undefined && o.num_predict >= 0 ? o.num_predict : undefined,
    stop: o.stop,
    contextLength: o.num_ctx !== undefined && o.num_ctx > 0 ? o.num_ctx : undefined,
  };
}

function formatOf(value: z.infer<typeof Format>): CompletionParams["format"] {
  return value === "" || value === undefined ? undefined : value;
}

function timings(outcome: CompletionOutcome) {
  const r = outcome.result;
  return {
    done_reason: finishReason(outcome, "ollama"),
    total_duration: outcome.totalNs,
    load_duration: outcome.loadNs,
    prompt_eval_count: r.promptTokens,
    prompt_eval_duration: r.promptEvalNs,
    eval_count: r.completionTokens,
    eval_duration: r.evalNs,
  };
}

function toolCalls(calls: ToolCall[]) {
  return calls.map((call) => ({ function: { name: call.name, arguments: call.arguments } }));
}

const now = () => new Date().toISOString();

/** Ollama's idiom: a request with nothing to generate loads the model, or with 0 unloads it. */
async function loadOrUnload(power: Power, model: string, keepAlive: string | number) {
  await power.registry.keep(model, keepAlive);
  return keepAlive === 0 || keepAlive === "0" ? "unload" : "load";
}

/** Streams `stream` as NDJSON: `piece` shapes each chunk of text, `last` the final line. */
async function ndjsonStream(
  controller: AbortController,
  stream: CompletionStream,
  piece: (text: string) => Record<string, unknown>,
  last: (outcome: CompletionOutcome) => Record<string, unknown>,
): Promise<Response> {
  const primed = await primeStream(stream);
  return ndjson(async (write) => {
    const { outcome } = await drainStream(primed, ({ text }) => {
      if (text) write(piece(text));
    });
    write(last(outcome));
  }, controller);
}

function generate(power: Power): RouteHandler<typeof generateRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const model = normalizeName(body.model);
    if (!body.prompt && body.keep_alive !== undefined && !body.context) {
      const reason = await loadOrUnload(power, model, body.keep_alive);
      return c.json({ model, created_at: now(), response: "", done: true, done_reason: reason });
    }
    if (body.images?.length) refuseImages(model, "images");
    const controller = requestAbort(c.req.raw);
    const stream = power.generate({
      model,
      prompt: body.prompt,
      system: body.system,
      raw: body.raw,
      context: body.context,
      format: formatOf(body.format),
      keepAlive: body.keep_alive,
      truncate: body.truncate,
      signal: controller.signal,
      ...sampling(body.options),
    });
    const final = (o: CompletionOutcome, response = "") => ({
      model: o.model,
      created_at: now(),
      response,
      done: true,
      ...timings(o),
      context: [...o.promptIds, ...o.result.tokens],
    });
    if (body.stream) {
      const piece = (text: string) => ({ model, created_at: now(), response: text, done: false });
      return await ndjsonStream(controller, stream, piece, (o) => final(o));
    }
    const { outcome } = await drainStream(stream);
    if (controller.signal.aborted) return clientGone();
    return c.json(final(outcome, outcome.result.text));
  };
}

function chatMessages(body: z.infer<typeof ChatBody>, model: string): ChatMessage[] {
  return body.messages.map((m, i) => {
    if (m.images?.length) refuseImages(model, `messages.${i}.images`);
    return {
      role: m.role,
      content: m.content,
      tool_calls: m.tool_calls?.map((t) => ({ function: t.function })),
      name: m.tool_name,
    };
  });
}

function chat(power: Power): RouteHandler<typeof chatRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const model = normalizeName(body.model);
    if (!body.messages.length && body.keep_alive !== undefined) {
      const reason = await loadOrUnload(power, model, body.keep_alive);
      const message = { role: "assistant", content: "" };
      return c.json({ model, created_at: now(), message, done: true, done_reason: reason });
    }
    const controller = requestAbort(c.req.raw);
    const stream = power.chat({
      model,
      messages: chatMessages(body, model),
      tools: body.tools,
      format: formatOf(body.format),
      keepAlive: body.keep_alive,
      truncate: body.truncate,
      signal: controller.signal,
      ...sampling(body.options),
    });
    const final = (o: CompletionOutcome, content = "") => ({
      model: o.model,
      created_at: now(),
      message: {
        role: "assistant",
        content,
        ...(o.toolCalls.length ? { tool_calls: toolCalls(o.toolCalls) } : {}),
      },
      done: true,
      ...timings(o),
    });
    if (body.stream) {
      const piece = (text: string) => ({
        model,
        created_at: now(),
        message: { role: "assistant", content: text },
        done: false,
      });
      return await ndjsonStream(controller, stream, piece, (o) => final(o));
    }
    const { outcome } = await drainStream(stream);
    if (controller.signal.aborted) return clientGone();
    return c.json(final(outcome, outcome.content));
  };
}

function embed(power: Power): RouteHandler<typeof embedRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const controller = requestAbort(c.req.raw);
    const result = await power.embed(normalizeName(body.model), inputs, {
      truncate: body.truncate,
      keepAlive: body.keep_alive,
      signal: controller.signal,
    });
    if (controller.signal.aborted) return clientGone();
    return c.json({
      model: result.model,
      embeddings: result.embeddings,
      total_duration: result.totalNs,
      load_duration: result.loadNs,
      prompt_eval_count: result.promptTokens,
    });
  };
}

function embeddings(power: Power): RouteHandler<typeof embeddingsRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const controller = requestAbort(c.req.raw);
    const result = await power.embed(normalizeName(body.model), [body.prompt], {
      keepAlive: body.keep_alive,
      signal: controller.signal,
    });
    if (controller.signal.aborted) return clientGone();
    return c.json({ embedding: result.embeddings[0] });
  };
}

/**
 * Mounts Ollama's routes for `power` on a new router.
 *
 * @example
 * ```ts ignore
 * const app = ollamaRoutes(power);
 * ```
 */
export function ollamaRoutes(power: Power): OpenAPIHono {
  const app = createRouter();
  app.openapi(generateRoute, generate(power));
  app.openapi(chatRoute, chat(power));
  app.openapi(embedRoute, embed(power));
  app.openapi(embeddingsRoute, embeddings(power));
  app.route("/", modelRoutes(power));
  return app;
}
