/**
 * What the proxy does to a model's reply, whole or streamed: which fields carry text the user
 * reads, and the tool guard on the calls the model asks the client to run.
 */
import type { Guard, RestoreScope } from "./guard.ts";

/** The header that lists tool calls kept for a person's approval. */
export const APPROVAL_HEADER = "x-safeclaw-approval-required";

/**
 * The fields of a reply's message (and of a streamed delta) whose text reaches the user: the
 * content, the reasoning that vLLM, DeepSeek and OpenRouter send beside it
 * (`reasoning_content`, `reasoning`), and a refusal. Each is sanitized; a stream's each on its
 * own sanitizer, since they interleave.
 */
export const REPLY_TEXT_FIELDS = ["content", "reasoning_content", "reasoning", "refusal"] as const;
/** One of {@linkcode REPLY_TEXT_FIELDS}. */
export type ReplyTextField = typeof REPLY_TEXT_FIELDS[number];

/** A tool call as a reply's message (or a request's history) carries it. */
export interface ToolCallMessage {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/** One choice of a whole reply. */
export interface ReplyChoice {
  finish_reason?: string | null;
  /** The tokens of the reply with their log probabilities, when the request asks for them. */
  logprobs?: unknown;
  message?:
    & {
      [field in ReplyTextField]?: unknown;
    }
    & {
      tool_calls?: ToolCallMessage[] | null;
      /** The one call of OpenAI's older functions API (`functions` in the request). */
      function_call?: { name?: string; arguments?: string } | null;
    };
}

/**
 * `text` with `edit` applied to every string in it (keys and values) when it is JSON, the way
 * tool-call arguments come; else `edit` of the whole text. Editing the strings of the parsed
 * value keeps the JSON valid whatever a replacement holds (a quote, a backslash). Unchanged
 * text is returned as it came, byte for byte.
 */
export async function editJsonStrings(
  text: string,
  edit: (value: string) => Promise<string>,
): Promise<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return await edit(text);
  }
  let changed = false;
  const walk = async (value: unknown): Promise<unknown> => {
    if (typeof value === "string") {
      const edited = await edit(value);
      if (edited !== value) changed = true;
      return edited;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const item of value) out.push(await walk(item));
      return out;
    }
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        out[await walk(key) as string] = await walk(item);
      }
      return out;
    }
    return value;
  };
  const edited = await walk(parsed);
  return changed ? JSON.stringify(edited) : text;
}

/**
 * Runs the tool guard on the model's tool calls before the client can execute them. The
 * session's placeholders in a call's arguments are first put back where policy restores
 * originals (the model saw `[EMAIL_1]`; the tool must get the address, and the guard must judge
 * the value that will really go out). A blocked call is removed and explained in the content; a
 * call that needs approval stays and is named in the approval header. Returns the ids of the
 * calls that need approval.
 */
export async function checkToolCalls(
  guard: Guard,
  session: string,
  choice: ReplyChoice,
  scope: RestoreScope = {},
): Promise<string[]> {
  const message = choice.message!;
  const kept: ToolCallMessage[] = [];
  const blocked: string[] = [];
  const held: string[] = [];
  for (const call of message.tool_calls ?? []) {
    const raw = call.function?.arguments;
    if (typeof raw === "string" && call.function) {
      call.function.arguments = await editJsonStrings(
        raw,
        (s) => guard.restoreInputs(session, s, scope),
      );
    }
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
    // The note quotes the model's own tool name and reasons: sanitized like the rest of the
    // reply, since it is added after the reply's text was (and streamed as a text delta).
    const note = (await guard.sanitizeOutput(
      session,
      `safeclaw blocked ${blocked.length === 1 ? "a tool call" : "tool calls"}: ${
        blocked.join(" | ")
      }`,
      "placeholder",
      scope,
    )).text;
    message.content = typeof message.content === "string" && message.content
      ? `${message.content}\n${note}`
      : note;
    if (!kept.length) choice.finish_reason = "stop";
  }
  return held;
}

/**
 * The tool guard on a reply's `function_call`, the one call of OpenAI's older functions API,
 * which clients that send `functions` still get: checked like a tool call (arguments restored;
 * removed and explained when blocked). Returns its name when it needs approval.
 */
export async function checkFunctionCall(
  guard: Guard,
  session: string,
  choice: ReplyChoice,
  scope: RestoreScope = {},
): Promise<string[]> {
  const message = choice.message!;
  const call = message.function_call;
  if (!call) return [];
  const probe: ReplyChoice = {
    message: { content: message.content, tool_calls: [{ id: call.name, function: call }] },
  };
  const held = await checkToolCalls(guard, session, probe, scope);
  message.content = probe.message!.content;
  if (!probe.message!.tool_calls?.length) {
    delete message.function_call;
    choice.finish_reason = "stop";
  }
  return held;
}
