/** Ollama's API: generate, chat, embed, and model management under `/api`. */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { createRouter, ValidationError } from "@a3s/common";
import type { CompletionChunk, CompletionOutcome, Power, ToolCall } from "../service.ts";
import type { SamplingOptions } from "../engine/sampler.ts";
import type { ChatMessage } from "../engine/chat_template.ts";
import { ndjson, requestAbort } from "./_stream.ts";
import { normalizeName } from "../models/names.ts";

/** The version `/api/version` reports. */
export const OLLAMA_COMPAT_VERSION = "0.6.4";

const Options = z.looseObject({
  temperature: z.number().min(0).optional(),
  top_k: z.number().int().min(0).optional(),
  top_p: z.number().min(0).max(1).optional(),
  min_p: z.number().min(0).max(1).optional(),
  repeat_penalty: z.number().min(0).optional(),
  repeat_last_n: z.number().int().min(-1).optional(),
  presence_penalty: z.number().optional(),
  frequency_penalty: z.number().optional(),
  seed: z.number().int().optional(),
  num_predict: z.number().int().optional(),
  stop: z.array(z.string()).optional(),
  num_ctx: z.number().int().optional(),
});

const KeepAlive = z.union([z.string(), z.number()]).optional();
const Format = z.union([z.literal("json"), z.literal(""), z.record(z.string(), z.unknown())])
  .optional();

const ToolCallSchema = z.object({
  function: z.object({
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
});

const Message = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string().default(""),
  images: z.array(z.string()).optional(),
  tool_calls: z.array(ToolCallSchema).optional(),
  tool_name: z.string().optional(),
});

const Tool = z.object({
  type: z.literal("function").default("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string().default(""),
  suffix: z.string().optional(),
  system: z.string().optional(),
  template: z.string().optional(),
  context: z.array(z.number().int()).optional(),
  stream: z.boolean().default(true),
  raw: z.boolean().default(false),
  format: Format,
  images: z.array(z.string()).optional(),
  options: Options.optional(),
  keep_alive: KeepAlive,
  truncate: z.boolean().optional(),
});

const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(Message).default([]),
  tools: z.array(Tool).optional(),
  stream: z.boolean().default(true),
  format: Format,
  options: Options.optional(),
  keep_alive: KeepAlive,
  truncate: z.boolean().optional(),
});

const EmbedBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string())]),
  truncate: z.boolean().default(true),
  options: Options.optional(),
  keep_alive: KeepAlive,
});

const EmbeddingsBody = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  options: Options.optional(),
  keep_alive: KeepAlive,
});

const ModelRef = z.object({
  model: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});
const PullBody = ModelRef.extend({
  source: z.string().min(1).optional(),
  insecure: z.boolean().optional(),
  stream: z.boolean().default(true),
});
const CopyBody = z.object({ source: z.string().min(1), destination: z.string().min(1) });

function post<S extends z.ZodType>(path: string, schema: S, summary: string, streamed = false) {
  return createRoute({
    method: "post",
    path,
    summary,
    tags: ["ollama"],
    request: { body: { content: { "application/json": { schema } }, required: true } },
    responses: {
      200: {
        description: streamed
          ? "JSON, or NDJSON lines when `stream` is true (the default)"
          : "JSON",
      },
    },
  });
}

function get(path: string, summary: string) {
  return createRoute({
    method: "get",
    path,
    summary,
    tags: ["ollama"],
    responses: { 200: { description: "JSON" } },
  });
}

function refuseImages(model: string, field: string): never {
  throw new ValidationError(`${field}: model '${model}' does not take images`, field);
}

function modelOf(body: { model?: string; name?: string }): string {
  const name = body.model ?? body.name;
  if (!name) throw new ValidationError("model: required", "model");
  return name;
}

function sampling(options: z.infer<typeof Options> | undefined): {
  sampling: SamplingOptions;
  maxTokens?: number;
  stop?: string[];
  contextLength?: number;
} {
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
    maxTokens: o.num_predict !== undefined && o.num_predict >= 0 ? o.num_predict : undefined,
    stop: o.stop,
    contextLength: o.num_ctx !== undefined && o.num_ctx > 0 ? o.num_ctx : undefined,
  };
}

function format(value: z.infer<typeof Format>): "json" | Record<string, unknown> | undefined {
  return value === "" || value === undefined ? undefined : value;
}

function timings(outcome: CompletionOutcome) {
  const r = outcome.result;
  return {
    done_reason: r.finishReason === "cancelled" ? "stop" : r.finishReason,
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

async function drain(stream: AsyncGenerator<CompletionChunk, CompletionOutcome>) {
  let text = "";
  let step = await stream.next();
  while (!step.done) {
    text += step.value.text;
    step = await stream.next();
  }
  return { text, outcome: step.value };
}

/** Streams `stream` as Ollama NDJSON, shaping each chunk with `piece` and the end with `last`. */
async function streamed(
  request: Request,
  controller: AbortController,
  stream: AsyncGenerator<CompletionChunk, CompletionOutcome>,
  piece: (text: string) => Record<string, unknown>,
  last: (outcome: CompletionOutcome) => Record<string, unknown>,
): Promise<Response> {
  // The first step loads the model, so errors such as an unknown model get a real status.
  const first = await stream.next();
  void request;
  return ndjson(async (write) => {
    let step = first;
    while (!step.done) {
      if (step.value.text) write(piece(step.value.text));
      step = await stream.next();
    }
    write(last(step.value));
  }, controller);
}

/**
 * Mounts Ollama's routes for `power` on a new router.
 *
 * @example
 * ```ts
 * const app = ollamaRoutes(power);
 * ```
 */
export function ollamaRoutes(power: Power): OpenAPIHono {
  const app = createRouter();
  const now = () => new Date().toISOString();

  app.openapi(post("/api/generate", GenerateBody, "Generate a completion", true), async (c) => {
    const body = c.req.valid("json");
    const model = normalizeName(body.model);
    if (!body.prompt && body.keep_alive !== undefined && !body.context) {
      // Ollama's idiom: an empty prompt loads the model, or unloads it with keep_alive 0.
      await power.registry.use(model, body.keep_alive, () => {});
      const unload = body.keep_alive === 0 || body.keep_alive === "0";
      return c.json({
        model,
        created_at: now(),
        response: "",
        done: true,
        done_reason: unload ? "unload" : "load",
      });
    }
    if (body.images?.length) refuseImages(model, "images");
    const controller = requestAbort(c.req.raw);
    const stream = power.generate({
      model,
      prompt: body.prompt,
      system: body.system,
      raw: body.raw,
      context: body.context,
      format: format(body.format),
      keepAlive: body.keep_alive,
      truncate: body.truncate,
      signal: controller.signal,
      ...sampling(body.options),
    });
    const final = (o: CompletionOutcome) => ({
      model: o.model,
      created_at: now(),
      response: "",
      done: true,
      ...timings(o),
      context: [...o.promptIds, ...o.result.tokens],
    });
    if (!body.stream) {
      const { outcome } = await drain(stream);
      return c.json({ ...final(outcome), response: outcome.result.text });
    }
    return streamed(c.req.raw, controller, stream, (text) => ({
      model,
      created_at: now(),
      response: text,
      done: false,
    }), final);
  });

  app.openapi(post("/api/chat", ChatBody, "Chat with a model", true), async (c) => {
    const body = c.req.valid("json");
    const model = normalizeName(body.model);
    if (!body.messages.length && body.keep_alive !== undefined) {
      await power.registry.use(model, body.keep_alive, () => {});
      const unload = body.keep_alive === 0 || body.keep_alive === "0";
      return c.json({
        model,
        created_at: now(),
        message: { role: "assistant", content: "" },
        done: true,
        done_reason: unload ? "unload" : "load",
      });
    }
    body.messages.forEach((m, i) =>
      m.images?.length && refuseImages(model, `messages.${i}.images`)
    );
    const controller = requestAbort(c.req.raw);
    const messages: ChatMessage[] = body.messages.map((m) => ({
      role: m.role,
      content: m.content,
      tool_calls: m.tool_calls?.map((t) => ({ function: t.function })),
      name: m.tool_name,
    }));
    const stream = power.chat({
      model,
      messages,
      tools: body.tools,
      format: format(body.format),
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
    if (!body.stream) {
      const { outcome } = await drain(stream);
      return c.json(final(outcome, outcome.content));
    }
    return streamed(c.req.raw, controller, stream, (text) => ({
      model,
      created_at: now(),
      message: { role: "assistant", content: text },
      done: false,
    }), (o) => final(o));
  });

  app.openapi(post("/api/embed", EmbedBody, "Embed text"), async (c) => {
    const body = c.req.valid("json");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const result = await power.embed(normalizeName(body.model), inputs, {
      truncate: body.truncate,
      keepAlive: body.keep_alive,
      signal: c.req.raw.signal,
    });
    return c.json({
      model: result.model,
      embeddings: result.embeddings,
      total_duration: result.totalNs,
      load_duration: result.loadNs,
      prompt_eval_count: result.promptTokens,
    });
  });

  app.openapi(post("/api/embeddings", EmbeddingsBody, "Embed text (legacy)"), async (c) => {
    const body = c.req.valid("json");
    const result = await power.embed(normalizeName(body.model), [body.prompt], {
      keepAlive: body.keep_alive,
      signal: c.req.raw.signal,
    });
    return c.json({ embedding: result.embeddings[0] });
  });

  const details = async (name: string) => {
    const manifest = await power.store.manifest(name);
    const file = manifest.onnxFile;
    const quantization = /q4f16/.test(file)
      ? "Q4F16"
      : /q4|bnb4/.test(file)
      ? "Q4"
      : /int8|uint8|quantized/.test(file)
      ? "Q8"
      : /fp16/.test(file)
      ? "F16"
      : "F32";
    return {
      manifest,
      details: {
        parent_model: "",
        format: "onnx",
        family: manifest.modelType,
        families: [manifest.modelType],
        parameter_size: `${
          (manifest.weightBytes / (quantization === "F32" ? 4 : quantization === "F16" ? 2 : 1) /
            1e6).toFixed(1)
        }M`,
        quantization_level: quantization,
      },
    };
  };

  app.openapi(get("/api/tags", "List models in the store"), async (c) => {
    const models = await power.store.list();
    const out = [];
    for (const m of models) {
      out.push({
        name: m.name,
        model: m.name,
        modified_at: m.modifiedAt.toISOString(),
        size: m.size,
        digest: m.digest,
        details: (await details(m.name).catch(() => ({ details: {} }))).details,
      });
    }
    return c.json({ models: out });
  });

  app.openapi(
    post("/api/show", ModelRef.extend({ verbose: z.boolean().optional() }), "Show a model"),
    async (c) => {
      const body = c.req.valid("json");
      const stored = await power.store.get(modelOf(body));
      const { manifest, details: d } = await details(stored.name);
      const capabilities = manifest.kind === "encoder"
        ? ["embedding"]
        : ["completion", "tools", "embedding"];
      return c.json({
        modelfile: `FROM ${stored.dir}\n`,
        parameters: Object.entries(manifest.generation)
          .filter(([, v]) => typeof v === "number" || typeof v === "string")
          .map(([k, v]) => `${k} ${v}`)
          .join("\n"),
        template: manifest.chatTemplate ?? "",
        details: d,
        model_info: {
          "general.architecture": manifest.modelType,
          "general.file": manifest.onnxFile,
          "general.context_length": manifest.contextLength,
          ...Object.fromEntries(
            Object.entries(manifest.config).filter(([, v]) => typeof v !== "object").map((
              [k, v],
            ) => [`${manifest.modelType}.${k}`, v]),
          ),
        },
        capabilities,
        modified_at: stored.modifiedAt.toISOString(),
      });
    },
  );

  app.openapi(get("/api/ps", "List loaded models"), async (c) => {
    const models = [];
    for (const m of power.registry.loaded()) {
      models.push({
        name: m.name,
        model: m.name,
        size: m.sizeBytes,
        digest: m.digest,
        details: (await details(m.name).catch(() => ({ details: {} }))).details,
        expires_at: m.expiresAt.getTime() > 8.6e15
          ? "0001-01-01T00:00:00Z"
          : m.expiresAt.toISOString(),
        size_vram: 0,
      });
    }
    return c.json({ models });
  });

  app.openapi(post("/api/pull", PullBody, "Pull a model from a path or URL", true), async (c) => {
    const body = c.req.valid("json");
    const given = modelOf(body);
    const source = body.source ?? given;
    const looksLikeSource = body.source === undefined &&
      (/^https?:\/\//.test(given) || given.startsWith("/") || given.startsWith("."));
    const name = looksLikeSource
      ? normalizeName(
        decodeURIComponent(
          given.replace(/[?#].*$/, "").replace(/\/+$/, "").split("/").pop() ?? "model",
        )
          .replace(/\.(tar\.gz|tgz|tar|zip)$/i, "").replace(/[^a-zA-Z0-9._-]/g, "-"),
      )
      : normalizeName(given);
    if (!looksLikeSource && body.source === undefined) {
      // Nothing to copy from: a known model is already "pulled", as Ollama reports.
      await power.store.get(name);
      if (!body.stream) return c.json({ status: "success" });
      const controller = requestAbort(c.req.raw);
      return ndjson((write) => {
        write({ status: "pulling manifest" });
        write({ status: "success" });
        return Promise.resolve();
      }, controller);
    }
    if (!body.stream) {
      await power.store.pull(source, name, undefined, c.req.raw.signal);
      return c.json({ status: "success" });
    }
    const controller = requestAbort(c.req.raw);
    return ndjson(async (write, signal) => {
      await power.store.pull(source, name, write, signal);
    }, controller);
  });

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/delete",
      summary: "Delete a model",
      tags: ["ollama"],
      request: { body: { content: { "application/json": { schema: ModelRef } }, required: true } },
      responses: { 200: { description: "Deleted" } },
    }),
    async (c) => {
      const name = modelOf(c.req.valid("json"));
      await power.registry.unload(normalizeName(name));
      await power.store.remove(name);
      return c.body(null, 200);
    },
  );

  app.openapi(post("/api/copy", CopyBody, "Copy a model"), async (c) => {
    const body = c.req.valid("json");
    await power.store.copy(body.source, body.destination);
    return c.body(null, 200);
  });

  app.openapi(
    get("/api/version", "The Ollama API version served"),
    (c) => c.json({ version: OLLAMA_COMPAT_VERSION }),
  );
  return app;
}
