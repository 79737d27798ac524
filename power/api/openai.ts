/** OpenAI's API: chat completions, completions, embeddings and models under `/v1`. */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { createRouter, NotFoundError, ValidationError } from "@a3s/common";
import type { CompletionChunk, CompletionOutcome, Power, ToolChoice } from "../service.ts";
import type { ChatMessage } from "../engine/chat_template.ts";
import type { TokenEvent } from "../engine/generate.ts";
import { requestAbort, sse } from "./_stream.ts";

const Stop = z.union([z.string(), z.array(z.string()).max(4)]).nullish();

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Content = z.union([z.string(), z.array(ContentPart)]).nullish();

const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: Content,
  name: z.string().optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(z.object({
    id: z.string().optional(),
    type: z.literal("function").default("function"),
    function: z.object({ name: z.string(), arguments: z.string().default("{}") }),
  })).optional(),
});

const Tool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const ResponseFormat = z.union([
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
      description: z.string().optional(),
    }),
  }),
]);

const Sampling = {
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repeat_penalty: z.number().min(0).nullish(),
  seed: z.number().int().nullish(),
  stop: Stop,
  n: z.number().int().min(1).max(8).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  user: z.string().optional(),
  /** Not in OpenAI's API: drop the oldest prompt tokens instead of failing on overflow. */
  truncate: z.boolean().optional(),
};

const ChatBody = z.looseObject({
  ...Sampling,
  messages: z.array(Message).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  response_format: ResponseFormat.nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: z.union([
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
  ]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
});

const CompletionBody = z.looseObject({
  ...Sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1)]),
  max_tokens: z.number().int().min(0).nullish(),
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
});

const EmbeddingBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  encoding_format: z.enum(["float", "base64"]).default("float"),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});

function post<S extends z.ZodType>(path: string, schema: S, summary: string) {
  return createRoute({
    method: "post",
    path,
    summary,
    tags: ["openai"],
    request: { body: { content: { "application/json": { schema } }, required: true } },
    responses: { 200: { description: "JSON, or server-sent events when `stream` is true" } },
  });
}

type SamplingBody = {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repeat_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
};

function sampling(body: SamplingBody, choice: number) {
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

function messagesOf(body: z.infer<typeof ChatBody>): ChatMessage[] {
  return body.messages.map((m, i) => {
    const role = m.role === "developer" ? "system" : m.role;
    return {
      role,
      content: text(m.content),
      name: m.name,
      tool_call_id: m.tool_call_id,
      tool_calls: m.tool_calls?.map((t, j) => {
        let args: Record<string, unknown>;
        try {
          args = JSON.parse(t.function.arguments);
        } catch {
          throw new ValidationError(
            `messages.${i}.tool_calls.${j}.function.arguments: not valid JSON`,
            `messages.${i}.tool_calls.${j}.function.arguments`,
          );
        }
        return {
          id: t.id,
          type: "function" as const,
          function: { name: t.function.name, arguments: args },
        };
      }),
    };
  });
}

function finishReason(outcome: CompletionOutcome): string {
  if (outcome.toolCalls.length) return "tool_calls";
  return outcome.result.finishReason === "length" ? "length" : "stop";
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

function toolCallsOf(outcome: CompletionOutcome, id: string) {
  return outcome.toolCalls.map((call, i) => ({
    id: `call_${id.slice(-8)}${i}`,
    type: "function" as const,
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  }));
}

function usage(outcomes: CompletionOutcome[]) {
  const prompt = outcomes[0]?.result.promptTokens ?? 0;
  const completion = outcomes.reduce((n, o) => n + o.result.completionTokens, 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

/**
 * Mounts OpenAI's routes for `power` on a new router.
 *
 * @example
 * ```ts
 * const app = openaiRoutes(power);
 * ```
 */
export function openaiRoutes(power: Power): OpenAPIHono {
  const app = createRouter();
  const seconds = () => Math.floor(Date.now() / 1000);

  app.openapi(post("/v1/chat/completions", ChatBody, "Create a chat completion"), async (c) => {
    const body = c.req.valid("json");
    const id = newId("chatcmpl");
    const created = seconds();
    const n = body.n ?? 1;
    const messages = messagesOf(body);
    const choice: ToolChoice | undefined = typeof body.tool_choice === "object" && body.tool_choice
      ? { name: body.tool_choice.function.name }
      : body.tool_choice ?? undefined;
    const rf = body.response_format;
    const format = rf?.type === "json_object"
      ? "json" as const
      : rf?.type === "json_schema"
      ? (rf.json_schema.schema ?? { type: "object" })
      : undefined;
    const controller = requestAbort(c.req.raw);
    const start = (i: number) =>
      power.chat({
        model: body.model,
        messages,
        tools: body.tools ?? undefined,
        toolChoice: choice,
        format,
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
        logprobs: body.logprobs ?? false,
        topLogprobs: body.logprobs ? body.top_logprobs ?? 0 : 0,
        truncate: body.truncate,
        signal: controller.signal,
        ...sampling(body, i),
      });
    if (!body.stream) {
      const outcomes: CompletionOutcome[] = [];
      const choices = [];
      for (let i = 0; i < n; i++) {
        const { outcome, events } = await power.complete(start(i));
        outcomes.push(outcome);
        const toolCalls = toolCallsOf(outcome, id);
        choices.push({
          index: i,
          message: {
            role: "assistant",
            content: toolCalls.length && !outcome.content ? null : outcome.content,
            refusal: null,
            ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          },
          logprobs: body.logprobs ? chatLogprobs(events) : null,
          finish_reason: finishReason(outcome),
        });
      }
      return c.json({
        id,
        object: "chat.completion",
        created,
        model: outcomes[0].model,
        system_fingerprint: "fp_a3s_power",
        choices,
        usage: usage(outcomes),
      });
    }
    const streams: AsyncGenerator<CompletionChunk, CompletionOutcome>[] = [start(0)];
    // The first step loads the model, so errors get a real status before the stream opens.
    const first = await streams[0].next();
    return sse(async (write) => {
      const outcomes: CompletionOutcome[] = [];
      const chunk = (
        index: number,
        delta: Record<string, unknown>,
        finish: string | null,
        extra = {},
      ) =>
        write({
          id,
          object: "chat.completion.chunk",
          created,
          model: body.model,
          system_fingerprint: "fp_a3s_power",
          choices: [{ index, delta, logprobs: null, finish_reason: finish, ...extra }],
        });
      for (let i = 0; i < n; i++) {
        const stream = i === 0 ? streams[0] : start(i);
        chunk(i, { role: "assistant", content: "" }, null);
        let step = i === 0 ? first : await stream.next();
        while (!step.done) {
          const { text: piece, event } = step.value;
          if (piece || (body.logprobs && event.token >= 0)) {
            chunk(
              i,
              { content: piece },
              null,
              body.logprobs && event.token >= 0 ? { logprobs: chatLogprobs([event]) } : {},
            );
          }
          step = await stream.next();
        }
        const outcome = step.value;
        outcomes.push(outcome);
        const toolCalls = toolCallsOf(outcome, id);
        if (toolCalls.length) {
          chunk(i, { tool_calls: toolCalls.map((t, index) => ({ index, ...t })) }, null);
        }
        chunk(i, {}, finishReason(outcome));
      }
      if (body.stream_options?.include_usage) {
        write({
          id,
          object: "chat.completion.chunk",
          created,
          model: body.model,
          system_fingerprint: "fp_a3s_power",
          choices: [],
          usage: usage(outcomes),
        });
      }
    }, controller);
  });

  app.openapi(post("/v1/completions", CompletionBody, "Create a completion"), async (c) => {
    const body = c.req.valid("json");
    const id = newId("cmpl");
    const created = seconds();
    const prompts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
    const n = body.n ?? 1;
    const controller = requestAbort(c.req.raw);
    const jobs = prompts.flatMap((prompt, p) =>
      Array.from({ length: n }, (_, i) => ({ prompt, p, i }))
    );
    const start = (job: { prompt: string; i: number }) =>
      power.generate({
        model: body.model,
        prompt: job.prompt,
        raw: true,
        maxTokens: body.max_tokens ?? 16,
        logprobs: body.logprobs !== null && body.logprobs !== undefined,
        topLogprobs: body.logprobs ?? 0,
        truncate: body.truncate,
        signal: controller.signal,
        ...sampling(body, job.i),
      });
    const logprobsOf = (events: TokenEvent[], offset: number) => {
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
    };
    if (!body.stream) {
      const outcomes: CompletionOutcome[] = [];
      const choices = [];
      for (const [index, job] of jobs.entries()) {
        const { outcome, events } = await power.complete(start(job));
        outcomes.push(outcome);
        const echo = body.echo ? job.prompt : "";
        choices.push({
          index,
          text: echo + outcome.result.text,
          logprobs: body.logprobs !== null && body.logprobs !== undefined
            ? logprobsOf(events, echo.length)
            : null,
          finish_reason: outcome.result.finishReason === "length" ? "length" : "stop",
        });
      }
      const promptTokens = outcomes.reduce(
        (s, o, i) => s + (i % n === 0 ? o.result.promptTokens : 0),
        0,
      );
      const completionTokens = outcomes.reduce((s, o) => s + o.result.completionTokens, 0);
      return c.json({
        id,
        object: "text_completion",
        created,
        model: outcomes[0].model,
        system_fingerprint: "fp_a3s_power",
        choices,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      });
    }
    const firstStream = start(jobs[0]);
    const first = await firstStream.next();
    return sse(async (write) => {
      const outcomes: CompletionOutcome[] = [];
      for (const [index, job] of jobs.entries()) {
        const stream = index === 0 ? firstStream : start(job);
        let step = index === 0 ? first : await stream.next();
        const emit = (t: string, finish: string | null, events: TokenEvent[] = []) =>
          write({
            id,
            object: "text_completion",
            created,
            model: body.model,
            system_fingerprint: "fp_a3s_power",
            choices: [{
              index,
              text: t,
              logprobs: body.logprobs !== null && body.logprobs !== undefined && events.length
                ? logprobsOf(events, 0)
                : null,
              finish_reason: finish,
            }],
          });
        if (body.echo) emit(job.prompt, null);
        while (!step.done) {
          if (step.value.text) {
            emit(step.value.text, null, step.value.event.token >= 0 ? [step.value.event] : []);
          }
          step = await stream.next();
        }
        outcomes.push(step.value);
        emit("", step.value.result.finishReason === "length" ? "length" : "stop");
      }
      if (body.stream_options?.include_usage) {
        const u = usage(outcomes);
        write({ id, object: "text_completion", created, model: body.model, choices: [], usage: u });
      }
    }, controller);
  });

  app.openapi(post("/v1/embeddings", EmbeddingBody, "Create embeddings"), async (c) => {
    const body = c.req.valid("json");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const result = await power.embed(body.model, inputs, { signal: c.req.raw.signal });
    return c.json({
      object: "list",
      data: result.embeddings.map((vector, index) => {
        let v = vector;
        if (body.dimensions && body.dimensions < v.length) {
          // Matryoshka-style truncation, renormalized to unit length.
          v = v.slice(0, body.dimensions);
          const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
          v = v.map((x) => x / norm);
        }
        const embedding = body.encoding_format === "base64"
          ? btoa(String.fromCharCode(...new Uint8Array(Float32Array.from(v).buffer)))
          : v;
        return { object: "embedding", index, embedding };
      }),
      model: result.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });

  const modelEntry = (name: string, modified: Date) => ({
    id: name,
    object: "model",
    created: Math.floor(modified.getTime() / 1000),
    owned_by: "a3s",
  });

  const listModels = createRoute({
    method: "get",
    path: "/v1/models",
    summary: "List models",
    tags: ["openai"],
    responses: { 200: { description: "JSON" } },
  });
  const getModel = createRoute({
    method: "get",
    path: "/v1/models/{id}",
    summary: "Retrieve a model",
    tags: ["openai"],
    request: { params: z.object({ id: z.string().min(1) }) },
    responses: { 200: { description: "JSON" } },
  });
  app.openapi(listModels, async (c) => {
    const models = await power.store.list();
    return c.json({ object: "list", data: models.map((m) => modelEntry(m.name, m.modifiedAt)) });
  });

  const retrieve = async (id: string) => {
    const model = await power.store.get(id).catch(() => {
      throw new NotFoundError(`The model '${id}' does not exist`, "model");
    });
    return modelEntry(model.name, model.modifiedAt);
  };
  app.openapi(getModel, async (c) => c.json(await retrieve(c.req.valid("param").id)));
  // Namespaced names such as `org/model:tag` carry a slash the route above cannot match.
  app.get("/v1/models/:id{.+/.+}", async (c) => c.json(await retrieve(c.req.param("id"))));

  return app;
}
