/**
 * The OpenAI-compatible proxy: `POST /safeclaw/v1/chat/completions` runs the whole pipeline on
 * the request (classification, injection, redaction, the session ratchet), forwards it to a
 * local upstream (power) or, only when the data allows, to a remote one, and sanitizes the reply,
 * streamed or not. OpenAI's clients work unchanged with `baseURL: <server>/safeclaw/v1`.
 */
import type { Context } from "hono";
import type { Guard, InputDecision, ReplyStream } from "./guard.ts";
import type { VaultOrigin } from "./sanitize.ts";
import { atLeast } from "./privacy/levels.ts";

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

/** The header that names the session; else the body's `user` field; else one shared session. */
export const SESSION_HEADER = "x-a3s-session";
/** The header that says where a request went: `local` or `remote`. */
export const ROUTE_HEADER = "x-safeclaw-route";

function openAiError(status: number, message: string, code: string): Response {
  return new Response(
    JSON.stringify({ error: { message, type: "safeclaw_policy", param: null, code } }),
    { status, headers: { "content-type": "application/json" } },
  );
}

function textOf(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    const parts = content.filter((p): p is { type: string; text: string } =>
      p && typeof p === "object" && (p as { type?: unknown }).type === "text" &&
      typeof (p as { text?: unknown }).text === "string"
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
    const isText = part && typeof part === "object" && part.type === "text" &&
      typeof part.text === "string";
    parts.push(
      isText
        ? { ...part, text: (await guard.reviewHistory(session, part.text, origin)).text }
        : part,
    );
  }
  return parts;
}

/** The messages this turn adds: the last user message and the tool results after it. */
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
    if (messages[i].role === "user" || messages[i].role === "tool") out.push(i);
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
  let body: { messages?: unknown; stream?: unknown; user?: unknown; [k: string]: unknown };
  try {
    body = await c.req.json();
  } catch {
    return openAiError(400, "body: not valid JSON", "invalid_request");
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return openAiError(400, "messages: expected a non-empty array", "invalid_request");
  }
  const messages = body.messages as ChatMessage[];
  for (const [i, m] of messages.entries()) {
    if (!m || typeof m !== "object" || typeof m.role !== "string") {
      return openAiError(400, `messages.${i}.role: expected a string`, "invalid_request");
    }
  }
  const session = c.req.header(SESSION_HEADER) ??
    (typeof body.user === "string" && body.user ? `openai:${body.user}` : "openai:anonymous");
  const decisions: InputDecision[] = [];
  for (const i of newMessages(messages)) {
    const text = textOf(messages[i].content);
    if (text === undefined) continue;
    const decision = await guard.inspectInput({
      session,
      text,
      source: messages[i].role === "tool" ? "tool_result" : "user",
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
  // The history goes upstream again each turn, with the user's messages as typed and the
  // replies as the user got them (the user's own values given back): each earlier message goes
  // as it did when new, redacted alike; one whose data may not leave this host keeps the turn
  // (and the session) local, and one that policy blocks blocks the turn.
  const fresh = new Set(newMessages(messages));
  let historyLocalOnly = false;
  for (const [i, message] of messages.entries()) {
    const text = fresh.has(i) ? undefined : textOf(message.content);
    if (text === undefined) continue;
    const origin = message.role === "assistant" ? "output" : "input";
    const past = await guard.reviewHistory(session, text, origin);
    if (past.action === "block") {
      return openAiError(
        403,
        `blocked by safeclaw: messages.${i} carries ${past.level} data`,
        "blocked",
      );
    }
    if (past.localOnly) {
      historyLocalOnly = true;
      await guard.sessions.raise(session, past.level);
    }
    if (past.text !== text) {
      const content = await redactedContent(guard, session, message.content, past.text, origin);
      messages[i] = { ...message, content };
    }
  }
  const sessionLevel = decisions.at(-1)?.sessionLevel ?? await guard.sessions.get(session);
  // The ratchet: once a session has carried local-only data, all of it stays local.
  const localOnly = decisions.some((d) => d.localOnly) || historyLocalOnly ||
    atLeast(sessionLevel, guard.policy.localOnlyAt);
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
    return new Response(upstream.body, {
      status: upstream.status,
      headers: {
        "content-type": upstream.headers.get("content-type") ?? "application/json",
        [ROUTE_HEADER]: route,
      },
    });
  }
  if (body.stream === true) {
    return streamReply(upstream, guard, session, route, await guard.outputStream(session));
  }
  const reply = await upstream.json() as { choices?: ReplyChoice[] };
  const held: string[] = [];
  for (const choice of reply.choices ?? []) {
    const message = choice.message;
    if (!message) continue;
    for (const field of REPLY_TEXT_FIELDS) {
      const value = message[field];
      if (typeof value === "string") {
        message[field] = (await guard.sanitizeOutput(session, value)).text;
      } else if (Array.isArray(value)) {
        // Content given as parts: each text part is sanitized as text.
        for (const part of value as { type?: unknown; text?: unknown }[]) {
          if (part?.type === "text" && typeof part.text === "string") {
            part.text = (await guard.sanitizeOutput(session, part.text)).text;
          }
        }
      }
    }
    if (Array.isArray(message.tool_calls) && message.tool_calls.length) {
      held.push(...await checkToolCalls(guard, session, choice));
    }
  }
  const replyHeaders: Record<string, string> = {
    "content-type": "application/json",
    [ROUTE_HEADER]: route,
  };
  if (held.length) replyHeaders[APPROVAL_HEADER] = held.join(", ");
  return new Response(JSON.stringify(reply), { status: 200, headers: replyHeaders });
}

/** The header that lists tool calls kept for a person's approval. */
export const APPROVAL_HEADER = "x-safeclaw-approval-required";

/**
 * The fields of a reply's message (and of a streamed delta) whose text reaches the user: the
 * content, the reasoning that vLLM, DeepSeek and OpenRouter send beside it
 * (`reasoning_content`, `reasoning`), and a refusal. Each is sanitized; a stream's each on its
 * own sanitizer, since they interleave.
 */
const REPLY_TEXT_FIELDS = ["content", "reasoning_content", "reasoning", "refusal"] as const;
type ReplyTextField = typeof REPLY_TEXT_FIELDS[number];

interface ReplyChoice {
  finish_reason?: string | null;
  message?:
    & {
      [field in ReplyTextField]?: unknown;
    }
    & {
      tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
    };
}

/**
 * Runs the tool guard on the model's tool calls before the client can execute them: a blocked
 * call is removed and explained in the content; a call that needs approval stays and is named in
 * the approval header. Returns the ids of the calls that need approval.
 */
async function checkToolCalls(
  guard: Guard,
  session: string,
  choice: ReplyChoice,
): Promise<string[]> {
  const message = choice.message!;
  const kept: NonNullable<typeof message.tool_calls> = [];
  const blocked: string[] = [];
  const held: string[] = [];
  for (const call of message.tool_calls ?? []) {
    let args: unknown = call.function?.arguments ?? "";
    try {
      args = JSON.parse(String(args));
    } catch {
      // Arguments that are not JSON are checked as the text they are.
    }
    const d = await guard.inspectToolCall(session, { tool: call.function?.name ?? "", args });
    if (d.decision === "block") blocked.push(`${call.function?.name}: ${d.reasons.join("; ")}`);
    else {
      kept.push(call);
      if (d.decision === "approve") held.push(call.id ?? call.function?.name ?? "tool");
    }
  }
  if (blocked.length) {
    message.tool_calls = kept.length ? kept : undefined;
    const note = `safeclaw blocked ${blocked.length === 1 ? "a tool call" : "tool calls"}: ${
      blocked.join(" | ")
    }`;
    message.content = typeof message.content === "string" && message.content
      ? `${message.content}\n${note}`
      : note;
    if (!kept.length) choice.finish_reason = "stop";
  }
  return held;
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface StreamChunk {
  choices?: {
    index?: number;
    delta?: { [field in ReplyTextField]?: unknown } & { tool_calls?: ToolCallDelta[] };
    finish_reason?: unknown;
  }[];
  [k: string]: unknown;
}

/**
 * Re-emits the upstream's SSE with every text delta (content, reasoning, refusal) passed through
 * a sanitizer of its field. Tool-call
 * deltas are held until the call is complete, checked by the tool guard, and then sent whole:
 * a client never sees a call that policy blocks.
 */
function streamReply(
  upstream: Response,
  guard: Guard,
  session: string,
  route: string,
  sanitizer: ReplyStream,
): Response {
  const encoder = new TextEncoder();
  let last: StreamChunk | undefined;
  let buffer = "";
  const calls = new Map<number, { id?: string; name: string; arguments: string }>();
  const emit = (controller: TransformStreamDefaultController<Uint8Array>, data: string) =>
    controller.enqueue(encoder.encode(`data: ${data}\n\n`));
  const withText = (template: StreamChunk, field: ReplyTextField, text: string): StreamChunk => ({
    ...template,
    choices: [{ index: 0, delta: { [field]: text }, finish_reason: null }],
  });
  // One sanitizer a text field, made when the field first comes (content's is given).
  const sanitizers = new Map<ReplyTextField, ReplyStream>([["content", sanitizer]]);
  const sanitizerFor = async (field: ReplyTextField) => {
    let found = sanitizers.get(field);
    if (!found) sanitizers.set(field, found = await guard.outputStream(session));
    return found;
  };
  const flushText = async (
    controller: TransformStreamDefaultController<Uint8Array>,
    template: StreamChunk | undefined,
  ) => {
    for (const [field, stream] of sanitizers) {
      const rest = stream.flush();
      if (rest && template) emit(controller, JSON.stringify(withText(template, field, rest)));
      await stream.recorded();
    }
  };
  const releaseToolCalls = async (
    controller: TransformStreamDefaultController<Uint8Array>,
    template: StreamChunk,
  ): Promise<boolean> => {
    if (!calls.size) return false;
    const choice: ReplyChoice = {
      message: {
        content: "",
        tool_calls: [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({
          id: c.id,
          function: { name: c.name, arguments: c.arguments },
        })),
      },
    };
    calls.clear();
    const held = await checkToolCalls(guard, session, choice);
    const kept = choice.message!.tool_calls ?? [];
    if (typeof choice.message!.content === "string" && choice.message!.content) {
      emit(controller, JSON.stringify(withText(template, "content", choice.message!.content)));
    }
    if (kept.length) {
      emit(
        controller,
        JSON.stringify({
          ...template,
          choices: [{
            index: 0,
            delta: {
              tool_calls: kept.map((c, index) => ({
                index,
                id: c.id,
                type: "function",
                function: c.function,
              })),
            },
            finish_reason: null,
          }],
          ...(held.length ? { safeclaw: { approval_required: held } } : {}),
        }),
      );
    }
    return kept.length > 0;
  };
  const handleEvent = async (
    controller: TransformStreamDefaultController<Uint8Array>,
    data: string,
  ) => {
    if (data === "[DONE]") {
      await flushText(controller, last);
      if (last) await releaseToolCalls(controller, last);
      emit(controller, "[DONE]");
      return;
    }
    let chunk: StreamChunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      emit(controller, data);
      return;
    }
    last = chunk;
    const choice = chunk.choices?.[0];
    for (const delta of choice?.delta?.tool_calls ?? []) {
      const index = delta.index ?? 0;
      const call = calls.get(index) ?? { name: "", arguments: "" };
      if (delta.id) call.id = delta.id;
      call.name += delta.function?.name ?? "";
      call.arguments += delta.function?.arguments ?? "";
      calls.set(index, call);
    }
    let hadText = false;
    for (const field of REPLY_TEXT_FIELDS) {
      const text = choice?.delta?.[field];
      if (typeof text !== "string") continue;
      hadText = true;
      const safe = (await sanitizerFor(field)).push(text);
      if (safe) emit(controller, JSON.stringify(withText(chunk, field, safe)));
    }
    if (choice && choice.finish_reason) {
      await flushText(controller, chunk);
      const hadCalls = calls.size > 0;
      const keptCalls = await releaseToolCalls(controller, chunk);
      const finish = hadCalls && !keptCalls ? "stop" : choice.finish_reason;
      emit(
        controller,
        JSON.stringify({ ...chunk, choices: [{ ...choice, delta: {}, finish_reason: finish }] }),
      );
      return;
    }
    if (hadText || choice?.delta?.tool_calls) return;
    emit(controller, data);
  };
  const body = upstream.body!.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, Uint8Array>({
      async transform(text, controller) {
        buffer += text;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of event.split("\n")) {
            if (line.startsWith("data:")) await handleEvent(controller, line.slice(5).trim());
          }
        }
      },
      async flush(controller) {
        await flushText(controller, last);
      },
    }),
  );
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      [ROUTE_HEADER]: route,
    },
  });
}
