/** The request bodies of Ollama's API, as zod schemas: validation, types and OpenAPI in one. */
import { z } from "@hono/zod-openapi";
import { KEEP_ALIVE_LIMIT_TEXT, keepAliveProblem } from "../models/keep_alive.ts";
import {
  checkToolParameters,
  JsonObject,
  JsonValue,
  OutputSchema,
  ToolParameters,
} from "./_json.ts";

/** The smallest context that holds one prompt token and one generated token. */
export const MIN_CONTEXT = 2;

/** Ollama's model options (sampling, limits, context size). */
export const Options = z.object({
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
  // Zero or less means "the model's own"; a positive value must leave room to generate.
  num_ctx: z.number().int().refine((n) => n <= 0 || n >= MIN_CONTEXT, {
    message: `must be at least ${MIN_CONTEXT} (one prompt token and one generated)`,
  }).optional(),
}).catchall(JsonValue);

const KeepAlive = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  const problem = keepAliveProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}).optional().describe(
  `A duration such as 5m or seconds; negative keeps the model loaded; at most ${KEEP_ALIVE_LIMIT_TEXT}`,
);
/** Structured output: `"json"` or a JSON Schema. */
export const Format = z.union([z.literal("json"), z.literal(""), OutputSchema]).optional();

const ToolCallSchema = z.object({
  function: z.object({
    name: z.string(),
    arguments: JsonObject.default({}),
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
    parameters: ToolParameters.optional(),
  }).superRefine(checkToolParameters),
});

/** `POST /api/generate`. */
export const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string().default(""),
  suffix: z.string().optional(),
  system: z.string().optional(),
  template: z.string().optional(),
  context: z.array(z.number().int().min(0)).optional(),
  stream: z.boolean().default(true),
  raw: z.boolean().default(false),
  format: Format,
  images: z.array(z.string()).optional(),
  options: Options.optional(),
  keep_alive: KeepAlive,
  truncate: z.boolean().optional(),
});

/** `POST /api/chat`. */
export const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(Message).default([]),
  tools: z.array(Tool).optional(),
  stream: z.boolean().default(true),
  format: Format,
  options: Options.optional(),
  keep_alive: KeepAlive,
  truncate: z.boolean().optional(),
});

/** `POST /api/embed`. */
export const EmbedBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string())]),
  truncate: z.boolean().default(true),
  options: Options.optional(),
  keep_alive: KeepAlive,
});

/** `POST /api/embeddings` (legacy). */
export const EmbeddingsBody = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  options: Options.optional(),
  keep_alive: KeepAlive,
});

/** A model named by `model` or (older clients) `name`. */
export const ModelRef = z.object({
  model: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});
/** `POST /api/pull`: a model name, path or URL. */
export const PullBody = ModelRef.extend({
  source: z.string().min(1).optional(),
  insecure: z.boolean().optional(),
  stream: z.boolean().default(true),
});
/** `POST /api/copy`. */
export const CopyBody = z.object({ source: z.string().min(1), destination: z.string().min(1) });

/** A model as a request names it. */
export type ModelRefBody = z.infer<typeof ModelRef>;
