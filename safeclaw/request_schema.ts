/**
 * The shape of a chat-completions request the proxy forwards. The proxy inspects and redacts
 * the text it can find, so text it cannot find would go upstream unread: content that is an
 * object, a bare string among parts, a part whose text is no string, a tool call whose
 * arguments are no string. Those requests are refused with a 400 naming the field. The strings
 * of every other field (a message's `name`, `tools`, `prediction`, ...) are reviewed by the
 * proxy as the history is, so they pass on in this shape as the client sent them.
 */
import { z } from "zod";

/** A content part: anything with a `type`; its `text`, when present, is text to inspect. */
const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() })
  .refine((part) => part.type !== "text" || part.text !== undefined, {
    message: "a text part needs its text",
    path: ["text"],
  });

const FunctionCall = z.looseObject({ name: z.string(), arguments: z.string() });

const RequestMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(ContentPart)]).nullable().optional(),
  tool_calls: z.array(z.looseObject({
    id: z.string().optional(),
    type: z.string().optional(),
    function: FunctionCall,
  })).nullable().optional(),
  function_call: FunctionCall.nullable().optional(),
});

/**
 * How deep a request's JSON may nest. Every string of it is read, and the request is written out
 * again for the upstream, each a walk as deep as the nesting: far deeper than any real request
 * (a tool's parameters, a few levels of objects), it would overflow the stack, a 500.
 */
export const MAX_REQUEST_DEPTH = 64;

/** The path to the first object or array in `value` nested deeper than `max` levels. */
export function pathDeeperThan(value: unknown, max: number): (string | number)[] | undefined {
  // A stack of its own, not recursion: the nesting it measures may be any depth.
  const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (pending.length) {
    const { value, path } = pending.pop()!;
    if (!value || typeof value !== "object") continue;
    if (path.length >= max) return path;
    for (const [key, item] of Object.entries(value)) {
      pending.push({ value: item, path: [...path, Array.isArray(value) ? Number(key) : key] });
    }
  }
  return undefined;
}

/** A chat-completions request as the proxy reads it. */
export const ChatRequestSchema = z.looseObject({
  messages: z.array(RequestMessage).min(1),
  stream: z.boolean().nullable().optional(),
  user: z.string().nullable().optional(),
}).superRefine((body, ctx) => {
  const path = pathDeeperThan(body, MAX_REQUEST_DEPTH);
  if (path) {
    ctx.addIssue({
      code: "custom",
      message: `nested deeper than ${MAX_REQUEST_DEPTH} levels`,
      path,
    });
  }
});
