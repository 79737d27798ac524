/** The request bodies of OpenAI's API, as zod schemas: validation, types and OpenAPI in one. */
import { z } from "@hono/zod-openapi";
import {
  checkResponseSchema,
  checkToolParameters,
  JsonText,
  JsonValue,
  ResponseSchema,
  ToolParameters,
} from "./_json.ts";

/** Most stop sequences OpenAI accepts. */
const MAX_STOP_SEQUENCES = 4;
/** Most choices one request may ask for (`n`). */
const MAX_CHOICES = 8;
/** Most alternatives per token in chat logprobs (`top_logprobs`). */
const MAX_CHAT_TOP_LOGPROBS = 20;
/** Most alternatives per token in legacy completion logprobs (`logprobs`). */
const MAX_COMPLETION_LOGPROBS = 5;

const Stop = z.union([z.string(), z.array(z.string()).max(MAX_STOP_SEQUENCES)]).nullish();

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).catchall(JsonValue);
/** Message content: a string or text parts. */
export const Content = z.union([z.string(), z.array(ContentPart)]).nullish();

const Message = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: Content,
  name: z.string().optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(z.object({
    id: z.string().optional(),
    type: z.literal("function").default("function"),
    function: z.object({ name: z.string(), arguments: JsonText.default("{}") }),
  })).optional(),
}).catchall(JsonValue);

const Tool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: ToolParameters.optional(),
    strict: z.boolean().nullish(),
  }).superRefine(checkToolParameters),
});

const ResponseFormat = z.union([
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string(),
      schema: ResponseSchema.optional(),
      strict: z.boolean().nullish(),
      description: z.string().optional(),
    }).superRefine(checkResponseSchema),
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
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  user: z.string().optional(),
  /** Not in OpenAI's API: drop the oldest prompt tokens instead of failing on overflow. */
  truncate: z.boolean().optional(),
};

/** `POST /v1/chat/completions`. */
export const ChatBody = z.object({
  ...Sampling,
  messages: z.array(Message).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_CHAT_TOP_LOGPROBS).nullish(),
  response_format: ResponseFormat.nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: z.union([
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
  ]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
}).catchall(JsonValue);

/** `POST /v1/completions`. */
export const CompletionBody = z.object({
  ...Sampling,
  // An empty prompt leaves the model nothing to continue from.
  prompt: z.union([
    z.string().min(1, "must not be empty"),
    z.array(z.string().min(1, "must not be empty")).min(1),
  ]),
  max_tokens: z.number().int().min(0).nullish(),
  logprobs: z.number().int().min(0).max(MAX_COMPLETION_LOGPROBS).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
}).catchall(JsonValue);

/** `POST /v1/embeddings`. */
export const EmbeddingBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  encoding_format: z.enum(["float", "base64"]).default("float"),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});

/** A chat completion request. */
export type ChatRequest = z.infer<typeof ChatBody>;
/** A legacy completion request. */
export type CompletionRequest = z.infer<typeof CompletionBody>;
/** The sampling fields both completion requests share. */
export type SamplingRequest = Pick<
  ChatRequest,
  | "temperature"
  | "top_p"
  | "top_k"
  | "min_p"
  | "presence_penalty"
  | "frequency_penalty"
  | "repeat_penalty"
  | "seed"
  | "stop"
>;
