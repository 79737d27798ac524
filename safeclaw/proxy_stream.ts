/**
 * The proxy's streamed replies: the upstream's SSE re-emitted with every text delta (content,
 * reasoning, refusal) passed through a sanitizer of its own, and tool calls held until complete.
 * A reply may have several choices (`n` > 1), which arrive interleaved; each is its own
 * conversation turn, so each has its own sanitizers and tool calls, and keeps its index.
 */
import type { Guard, ReplyStream, RestoreScope } from "./guard.ts";
import { SseReader } from "./sse.ts";
import { readChunk } from "./reply_schema.ts";
import {
  checkFunctionCall,
  checkToolCalls,
  editStrings,
  REPLY_TEXT_FIELDS,
  type ReplyChoice,
  type ReplyTextField,
  type ToolCallMessage,
} from "./proxy_reply.ts";

interface ToolCallDelta extends ToolCallMessage {
  index?: number;
}

interface StreamChoice {
  index?: number;
  delta?:
    | { [field in ReplyTextField]?: unknown } & {
      tool_calls?: ToolCallDelta[] | null;
      function_call?: { name?: string; arguments?: string } | null;
    }
    | null;
  finish_reason?: unknown;
}

interface StreamChunk {
  choices?: StreamChoice[];
  [k: string]: unknown;
}

/** What one choice of the reply has pending. */
interface ChoiceState {
  /** One sanitizer a text field, made when the field first comes. */
  sanitizers: Map<ReplyTextField, ReplyStream>;
  /** Tool calls by their index, as their deltas accumulate. */
  calls: Map<number, { id?: string; name: string; arguments: string }>;
  /** The older functions API's one call, as its deltas accumulate. */
  functionCall?: { name: string; arguments: string };
  /**
   * The last chunk that carried this choice: what it holds goes out in that chunk's envelope
   * (id, model), not in whichever chunk came last (an error, the usage).
   */
  envelope: StreamChunk;
}

type Controller = TransformStreamDefaultController<Uint8Array>;

/**
 * The sanitized stream of `upstream`'s SSE body. Tool-call deltas are held until their choice
 * ends, checked by the tool guard, and then sent whole: a client never sees a call that policy
 * blocks.
 */
export function streamReply(
  upstream: Response,
  guard: Guard,
  session: string,
  headers: Record<string, string>,
  scope: RestoreScope = {},
): Response {
  const encoder = new TextEncoder();
  const states = new Map<number, ChoiceState>();
  const emit = (controller: Controller, data: string) =>
    controller.enqueue(encoder.encode(`data: ${data}\n\n`));
  const emitChoice = (controller: Controller, template: StreamChunk, choice: StreamChoice) =>
    emit(controller, JSON.stringify({ ...template, choices: [choice] }));
  const stateOf = (index: number, envelope: StreamChunk) => {
    let state = states.get(index);
    if (!state) states.set(index, state = { sanitizers: new Map(), calls: new Map(), envelope });
    state.envelope = envelope;
    return state;
  };
  const sanitized = async (value: string) =>
    (await guard.sanitizeOutput(session, value, "placeholder", scope)).text;
  const sanitizerFor = async (state: ChoiceState, field: ReplyTextField) => {
    let found = state.sanitizers.get(field);
    if (!found) {
      state.sanitizers.set(field, found = await guard.outputStream(session, "placeholder", scope));
    }
    return found;
  };
  const text = (index: number, field: ReplyTextField, value: string): StreamChoice => ({
    index,
    delta: { [field]: value },
    finish_reason: null,
  });
  /** Sends what a choice still holds: its texts' tails, then its checked tool calls. */
  const release = async (controller: Controller, index: number) => {
    const state = states.get(index);
    if (!state) return { hadCalls: false, keptCalls: false };
    states.delete(index);
    const template = state.envelope;
    for (const [field, stream] of state.sanitizers) {
      const rest = stream.flush();
      if (rest) emitChoice(controller, template, text(index, field, rest));
      await stream.recorded();
    }
    if (!state.calls.size && !state.functionCall) return { hadCalls: false, keptCalls: false };
    // Tool calls, or the older functions API's one call, checked as the whole reply's are.
    const message: ReplyChoice["message"] = {
      content: "",
      tool_calls: state.calls.size
        ? [...state.calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({
          id: c.id,
          function: { name: c.name, arguments: c.arguments },
        }))
        : undefined,
      function_call: state.functionCall,
    };
    const choice: ReplyChoice = { message };
    const held = [
      ...await checkToolCalls(guard, session, choice, scope),
      ...await checkFunctionCall(guard, session, choice, scope),
    ];
    if (typeof message.content === "string" && message.content) {
      emitChoice(controller, template, text(index, "content", message.content));
    }
    const calls = message.tool_calls?.map((c, position) => ({
      index: position,
      id: c.id,
      type: "function",
      function: c.function,
    }));
    const delta = calls?.length
      ? { tool_calls: calls }
      : message.function_call
      ? { function_call: message.function_call }
      : undefined;
    if (delta) {
      emit(
        controller,
        JSON.stringify({
          ...template,
          choices: [{ index, delta, finish_reason: null }],
          ...(held.length ? { safeclaw: { approval_required: held } } : {}),
        }),
      );
    }
    return { hadCalls: true, keptCalls: delta !== undefined };
  };
  const releaseAll = async (controller: Controller) => {
    for (const index of [...states.keys()]) await release(controller, index);
  };
  const handleChoice = async (controller: Controller, chunk: StreamChunk, choice: StreamChoice) => {
    const index = choice.index ?? 0;
    const state = stateOf(index, chunk);
    for (const delta of choice.delta?.tool_calls ?? []) {
      const position = delta.index ?? 0;
      const call = state.calls.get(position) ?? { name: "", arguments: "" };
      if (delta.id) call.id = delta.id;
      call.name += delta.function?.name ?? "";
      call.arguments += delta.function?.arguments ?? "";
      state.calls.set(position, call);
    }
    const functionDelta = choice.delta?.function_call;
    if (functionDelta) {
      const call = state.functionCall ??= { name: "", arguments: "" };
      call.name += functionDelta.name ?? "";
      call.arguments += functionDelta.arguments ?? "";
    }
    let hadText = false;
    for (const field of REPLY_TEXT_FIELDS) {
      const value = choice.delta?.[field];
      if (typeof value !== "string") continue;
      hadText = true;
      const safe = (await sanitizerFor(state, field)).push(value);
      if (safe) emitChoice(controller, chunk, text(index, field, safe));
    }
    if (choice.finish_reason) {
      const { hadCalls, keptCalls } = await release(controller, index);
      const finish = hadCalls && !keptCalls ? "stop" : choice.finish_reason;
      emitChoice(controller, chunk, { index, delta: {}, finish_reason: finish });
      return;
    }
    // A delta with neither text nor calls (the role, say) goes on as it came. Log probabilities
    // are never passed on: they spell the text out again, unsanitized.
    if (!hadText && !choice.delta?.tool_calls && !functionDelta) {
      emitChoice(controller, chunk, { index, delta: choice.delta ?? {}, finish_reason: null });
    }
  };
  const handleEvent = async (controller: Controller, data: string) => {
    if (data === "[DONE]") {
      await releaseAll(controller);
      emit(controller, "[DONE]");
      return;
    }
    const chunk: StreamChunk | undefined = readChunk(data);
    if (!chunk) return;
    // A chunk without choices (the usage that ends some streams, an error midway) has no
    // sanitizer of its own, but an error can quote the request or the reply: each of its
    // strings is sanitized whole.
    if (!chunk.choices?.length) {
      return emit(controller, JSON.stringify(await editStrings(chunk, sanitized)));
    }
    for (const choice of chunk.choices) await handleChoice(controller, chunk, choice);
  };
  const reader = new SseReader();
  const body = upstream.body!.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, Uint8Array>({
      async transform(received, controller) {
        for (const data of reader.push(received)) await handleEvent(controller, data);
      },
      // An upstream that ends without [DONE] (or without a blank line after its last event)
      // still gets its last event read and each choice's held text and calls out.
      async flush(controller) {
        for (const data of reader.end()) await handleEvent(controller, data);
        await releaseAll(controller);
      },
    }),
  );
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers },
  });
}
