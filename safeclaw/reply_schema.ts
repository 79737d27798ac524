/**
 * The shapes of an upstream's chat replies that the proxy passes on: a whole reply and each
 * streamed chunk. The proxy sanitizes the fields it knows, so anything else in a message or a
 * delta could carry text past the sanitizer (an upstream that puts an object in `content`, a
 * vendor field with the reply again): those fields are dropped, and a reply whose known fields
 * have other types is refused (a whole reply) or not passed on (a chunk). Other fields of a
 * whole reply's choice and of a content part are kept, and every string in them sanitized; so
 * is every string of a chunk without choices (an error, the usage). The envelope around the
 * choices (id, model, usage, ...) passes as it came.
 */
import { z } from "zod";
import { parseJson, validationErrorFrom, type ZodIssueLike } from "@a3s/common";

/** A part of a content array; any `text` in it is sanitized, whatever its type says. */
const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

/** Text a person reads beside the content: reasoning, a refusal. */
const ReplyText = z.string().nullable().optional();

const FunctionCall = z.object({ name: z.string(), arguments: z.string() });

const ToolCall = z.object({
  id: z.string().optional(),
  type: z.string().optional(),
  function: FunctionCall,
});

/** A whole reply's message: the fields the proxy sanitizes or checks, and the role. */
const ReplyMessage = z.object({
  role: z.string().optional(),
  content: z.union([z.string(), z.array(ContentPart)]).nullable().optional(),
  reasoning_content: ReplyText,
  reasoning: ReplyText,
  refusal: ReplyText,
  tool_calls: z.array(ToolCall).nullable().optional(),
  function_call: FunctionCall.nullable().optional(),
});

/** A whole chat completion, as `POST /chat/completions` answers without streaming. */
export const ChatReplySchema = z.looseObject({
  choices: z.array(z.looseObject({
    index: z.number().int().min(0).optional(),
    finish_reason: z.string().nullable().optional(),
    logprobs: z.unknown().optional(),
    message: ReplyMessage,
  })),
});

const ToolCallDelta = z.object({
  index: z.number().int().min(0).optional(),
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() })
    .optional(),
});

/** What one streamed delta may carry. */
const ReplyDelta = z.object({
  role: z.string().optional(),
  content: ReplyText,
  reasoning_content: ReplyText,
  reasoning: ReplyText,
  refusal: ReplyText,
  tool_calls: z.array(ToolCallDelta).nullable().optional(),
  function_call: z.object({ name: z.string().optional(), arguments: z.string().optional() })
    .nullable().optional(),
});

/** One `data:` event of a streamed reply (a chunk without choices carries the usage). */
export const ChatChunkSchema = z.looseObject({
  choices: z.array(z.looseObject({
    index: z.number().int().min(0).optional(),
    delta: ReplyDelta.nullable().optional(),
    finish_reason: z.string().nullable().optional(),
    logprobs: z.unknown().optional(),
  })).optional(),
});

/** One streamed chunk of a reply. */
export type ChatChunk = z.infer<typeof ChatChunkSchema>;

/**
 * The chunk an SSE event's `data` holds, or `undefined` when it is not JSON or not of a chunk's
 * shape: no text in it can be sanitized, so it is not passed on (fail closed).
 */
export function readChunk(data: string): ChatChunk | undefined {
  const parsed = parseJson(ChatChunkSchema, data);
  return parsed.ok ? parsed.value : undefined;
}

/** The first thing wrong with a reply, as `path: message`, for the 502 it gets. */
export function replyProblem(issue: ZodIssueLike): string {
  return validationErrorFrom([issue], "reply").message;
}
