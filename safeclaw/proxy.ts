/**
 * The OpenAI-compatible proxy: `POST /safeclaw/v1/chat/completions` runs the whole pipeline on
 * the request (classification, injection, redaction, the session ratchet), forwards it to a
 * local upstream (power) or, only when the data allows, to a remote one, and sanitizes the reply,
 * streamed or not. OpenAI's clients work unchanged with `baseURL: <server>/safeclaw/v1`.
 */
import type { Context } from "hono";
import type { Guard, InputDecision, RestoreScope } from "./guard.ts";
import { placeholdersIn, type VaultOrigin } from "./sanitize.ts";
import { atLeast, type Level } from "./privacy/levels.ts";
import {
  APPROVAL_HEADER,
  checkFunctionCall,
  checkToolCalls,
  editJsonStrings,
  REPLY_TEXT_FIELDS,
  type ToolCallMessage,
} from "./proxy_reply.ts";
import { streamReply } from "./proxy_stream.ts";
import { ChatReplySchema, replyProblem } from "./reply_schema.ts";
import { ChatRequestSchema } from "./request_schema.ts";
import { parseJson, validationErrorFrom } from "@a3s/common";
import { apiSession, SESSION_NAME_MAX } from "./api_session.ts";

export { APPROVAL_HEADER };

/** Where requests go. */
export interface ProxyUpstreams {
  /** Base URL of the local OpenAI API, e.g. `http://127.0.0.1:11434/v1`. */
  local: string;
  /** Base URL of a remote OpenAI API; without one, everything goes to `local`. */
  remote?: string;
  remoteApiKey?: string;
}

interface ChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

/**
 * The header that names the session; else the body's `user` field; else one session shared by
 * the caller's requests. Either way the session is the caller's own (`api_session.ts`).
 */
export const SESSION_HEADER = "x-a3s-session";
/** The header that says where a request went: `local` or `remote`. */
export const ROUTE_HEADER = "x-safeclaw-route";

/** OpenAI's error `type` for a status, which its clients read beside the status itself. */
function openAiErrorType(status: number): string {
  if (status === 400) return "invalid_request_error";
  if (status === 403) return "permission_error";
  return "api_error";
}

/** An error in OpenAI's shape; `param` names the request field at fault, as OpenAI's do. */
function openAiError(status: number, message: string, code: string, param?: string): Response {
  return new Response(
    JSON.stringify({
      error: { message, type: openAiErrorType(status), param: param ?? null, code },
    }),
    { status, headers: { "content-type": "application/json" } },
  );
}

function textOf(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    // Any part's text, whatever its type says (`text`, `input_text`, ...): all of it is read.
    const parts = content.filter((p): p is { text: string } =>
      p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string"
    );
    return parts.length ? parts.map((p) => p.text).join("\n") : undefined;
  }
  return undefined;
}

/**
 * `content` with its text redacted: a string becomes `redacted`; a list of parts keeps every
 * part that is not text (an image, a file) and gets each text part redacted on its own.
 */
async function redactedContent(
  guard: Guard,
  session: string,
  content: unknown,
  redacted: string,
  origin: VaultOrigin,
): Promise<unknown> {
  if (!Array.isArray(content)) return redacted;
  const parts = [];
  for (const part of content) {
    const isText = part && typeof part === "object" && typeof part.text === "string";
    parts.push(
      isText
        ? { ...part, text: (await guard.reviewHistory(session, part.text, origin)).text }
        : part,
    );
  }
  return parts;
}

/** Roles whose content is a tool's result: untrusted content. */
const TOOL_RESULT_ROLES = new Set(["tool", "function"]);

/**
 * The messages this turn adds: the last user message and the tool results after it (`function`
 * is the older functions API's result).
 */
function newMessages(messages: ChatMessage[]): number[] {
  let lastAssistant = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === "assistant") {
      lastAssistant = i;
      break;
    }
  }
  const out: number[] = [];
  for (let i = lastAssistant + 1; i < messages.length; i++) {
    if (messages[i].role === "user" || TOOL_RESULT_ROLES.has(messages[i].role)) out.push(i);
  }
  if (!out.length) {
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i].role === "user") return [i];
    }
  }
  return out;
}

/**
 * Handles one chat-completions request.
 *
 * @example
 * ```ts
 * import { handleChatCompletions } from "./proxy.ts";
 * // routes.post("/safeclaw/v1/chat/completions", (c) => handleChatCompletions(c, guard, upstreams));
 * ```
 */
export async function handleChatCompletions(
  c: Context,
  guard: Guard,
  upstreams: ProxyUpstreams,
): Promise<Response> {
  const request = parseJson(ChatRequestSchema, await c.req.text());
  if (!request.ok) {
    const problem = request.issue
      ? validationErrorFrom([request.issue], "body")
      : { message: "body: not valid JSON", field: "body" };
    return openAiError(400, problem.message, "invalid_request", problem.field);
  }
  const body = request.value;
  const messages: ChatMessage[] = body.messages;
  // The request as the client sent it: a placeholder in it was typed, not written by us.
  const asSent = JSON.stringify(messages);
  const header = c.req.header(SESSION_HEADER);
  const user = body.user || undefined;
  const named = header ?? user;
  if (named !== undefined && named.length > SESSION_NAME_MAX) {
    const field = header === undefined ? "user" : SESSION_HEADER;
    return openAiError(
      400,
      `${field}: at most ${SESSION_NAME_MAX} characters`,
      "invalid_request",
      field,
    );
  }
  const session = apiSession(c.req.raw, header ?? `openai:${user ?? "anonymous"}`);
  const decisions: InputDecision[] = [];
  const fresh = newMessages(messages);
  for (const i of fresh) {
    const text = textOf(messages[i].content);
    if (text === undefined) continue;
    const decision = await guard.inspectInput({
      session,
      text,
      source: TOOL_RESULT_ROLES.has(messages[i].role) ? "tool_result" : "user",
    });
    decisions.push(decision);
    if (decision.action === "block") {
      return openAiError(403, `blocked by safeclaw: ${decision.reasons.join("; ")}`, "blocked");
    }
    if (decision.action === "redact") {
      const content = messages[i].content;
      messages[i] = {
        ...messages[i],
        content: await redactedContent(guard, session, content, decision.text, "input"),
      };
    }
  }
  const history = await reviewHistory(guard, session, messages, new Set(fresh));
  if (history.blocked) {
    const { index, level } = history.blocked;
    return openAiError(
      403,
      `blocked by safeclaw: messages.${index} carries ${level} data`,
      "blocked",
    );
  }
  const sessionLevel = decisions.at(-1)?.sessionLevel ?? await guard.sessions.get(session);
  // The ratchet: once a session has carried local-only data, all of it stays local.
  const localOnly = decisions.some((d) => d.localOnly) || history.localOnly ||
    atLeast(sessionLevel, guard.policy.localOnlyAt);
  // Only placeholders this request's redaction wrote are put back in the reply (a client can
  // name any session; the placeholders it types itself get nothing back).
  const typed = placeholdersIn(asSent);
  const scope: RestoreScope = {
    only: new Set([...placeholdersIn(JSON.stringify(messages))].filter((p) => !typed.has(p))),
  };
  const remote = !localOnly && upstreams.remote !== undefined;
  const base = (remote ? upstreams.remote! : upstreams.local).replace(/\/$/, "");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (remote && upstreams.remoteApiKey) headers.authorization = `Bearer ${upstreams.remoteApiKey}`;
  let upstream: Response;
  try {
    upstream = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ ...body, messages }),
      signal: c.req.raw.signal,
    });
  } catch (error) {
    return openAiError(502, `upstream unreachable: ${(error as Error).message}`, "upstream_error");
  }
  const route = remote ? "remote" : "local";
  if (!upstream.ok || !upstream.body) {
    // An error body can quote the request or the reply (a value, a key): sanitized like a reply.
    const errorText = upstream.body ? await bodyStart(upstream.body, ERROR_BODY_KEPT) : "";
    const shown = errorText
      ? (await guard.sanitizeOutput(session, errorText, "placeholder", scope)).text
      : null;
    return new Response(shown, {
      status: upstream.status,
      headers: {
        "content-type": upstream.headers.get("content-type") ?? "application/json",
        [ROUTE_HEADER]: route,
      },
    });
  }
  if (body.stream === true) {
    return streamReply(upstream, guard, session, { [ROUTE_HEADER]: route }, scope);
  }
  const parsed = parseJson(ChatReplySchema, await upstream.text());
  if (!parsed.ok) {
    const problem = parsed.issue
      ? `upstream reply is not a chat completion (${replyProblem(parsed.issue)})`
      : "upstream reply is not JSON";
    return openAiError(502, problem, "upstream_error");
  }
  const reply = parsed.value;
  const held: string[] = [];
  for (const choice of reply.choices) {
    const message = choice.message;
    let redacted = false;
    const sanitized = async (text: string) => {
      const out = await guard.sanitizeOutput(session, text, "placeholder", scope);
      if (out.findings.length) redacted = true;
      return out.text;
    };
    for (const field of REPLY_TEXT_FIELDS) {
      const value = message[field];
      if (typeof value === "string") message[field] = await sanitized(value);
      else if (Array.isArray(value)) {
        // Content given as parts: the text of each part is sanitized, whatever its type.
        for (const part of value) {
          if (typeof part.text === "string") part.text = await sanitized(part.text);
        }
      }
    }
    // Log probabilities spell the reply out again token by token (and the tokens the model
    // nearly chose): a redacted reply's would give the values back.
    if (redacted && choice.logprobs) choice.logprobs = null;
    if (Array.isArray(message.tool_calls) && message.tool_calls.length) {
      held.push(...await checkToolCalls(guard, session, choice, scope));
    }
    held.push(...await checkFunctionCall(guard, session, choice, scope));
  }
  const replyHeaders: Record<string, string> = {
    "content-type": "application/json",
    [ROUTE_HEADER]: route,
  };
  if (held.length) replyHeaders[APPROVAL_HEADER] = held.join(", ");
  return new Response(JSON.stringify(reply), { status: 200, headers: replyHeaders });
}

/**
 * Reviews the earlier messages of a conversation, which go upstream again each turn (clients send
 * the whole history, the user's messages as typed and the replies as the user got them, their
 * tool calls' arguments with the user's values put back): each earlier text, and each string of
 * a tool call's arguments, goes as it did when new, redacted alike, in place in `messages`. One
 * whose data may not leave this host keeps the turn (and the session) local; one that policy
 * blocks blocks the turn. `fresh` are the indices of the turn's new messages, inspected apart.
 */
async function reviewHistory(
  guard: Guard,
  session: string,
  messages: ChatMessage[],
  fresh: ReadonlySet<number>,
): Promise<{ localOnly: boolean; blocked?: { index: number; level: Level } }> {
  let localOnly = false;
  let blocked: { index: number; level: Level } | undefined;
  for (const [index, message] of messages.entries()) {
    if (blocked) break;
    if (fresh.has(index)) continue;
    const origin: VaultOrigin = message.role === "assistant" ? "output" : "input";
    const review = async (text: string) => {
      const past = await guard.reviewHistory(session, text, origin);
      if (past.action === "block") blocked ??= { index, level: past.level };
      if (past.localOnly) {
        localOnly = true;
        await guard.sessions.raise(session, past.level);
      }
      return past.text;
    };
    const text = textOf(message.content);
    if (text !== undefined) {
      const reviewed = await review(text);
      if (reviewed !== text) {
        const content = await redactedContent(guard, session, message.content, reviewed, origin);
        messages[index] = { ...messages[index], content };
      }
    }
    // A call's arguments, reviewed string by string; the older functions API's one call alike.
    const reviewCall = async (call: ToolCallMessage["function"]) =>
      typeof call?.arguments === "string"
        ? { ...call, arguments: await editJsonStrings(call.arguments, review) }
        : call;
    if (Array.isArray(message.tool_calls)) {
      const calls: unknown[] = [];
      for (const call of message.tool_calls as ToolCallMessage[]) {
        calls.push(call?.function ? { ...call, function: await reviewCall(call.function) } : call);
      }
      messages[index] = { ...messages[index], tool_calls: calls };
    }
    if (message.function_call && typeof message.function_call === "object") {
      const call = await reviewCall(message.function_call as ToolCallMessage["function"]);
      messages[index] = { ...messages[index], function_call: call };
    }
  }
  return { localOnly, blocked };
}

/** Bytes of an upstream's error body passed on; an error worth reading is far shorter. */
const ERROR_BODY_KEPT = 64 * 1024;

/** The first `limit` bytes of `body` as text; the rest is not read. */
async function bodyStart(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (let length = 0; length < limit;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value.subarray(0, limit - length), { stream: true });
      length += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text + decoder.decode();
}
