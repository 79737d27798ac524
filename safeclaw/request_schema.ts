/**
 * The shape of a chat-completions request the proxy forwards. The proxy inspects and redacts
 * the text it can find, so text it cannot find would go upstream unread: content that is an
 * object, a bare string among parts, a part whose text is no string, a tool call whose
 * arguments are no string. Those requests are refused with a 400 naming the field; every other
 * field passes on as the client sent it.
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

/** A chat-completions request as the proxy reads it. */
export const ChatRequestSchema = z.looseObject({
  messages: z.array(RequestMessage).min(1),
  stream: z.boolean().nullable().optional(),
  user: z.string().nullable().optional(),
});
