/**
 * What the proxy does to a model's reply, whole or streamed: which fields carry text the user
 * reads, and the tool guard on the calls the model asks the client to run.
 */
import { type Guard, ownOrigins, type RestoreScope } from "./guard.ts";
import { sanitize } from "./sanitize.ts";

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

/** Rewrites one string of a JSON value; `key` is the object key it is under, when there is one. */
export type EditString = (value: string, key?: string) => Promise<string>;

/** Whether a string is a payload to pass unread, by the key it is under. */
export type KeepString = (key: string | undefined, text: string) => boolean;

/**
 * `value` (parsed JSON) with `edit` applied to every string in it, object keys included; numbers,
 * booleans and null pass. A string `keep` says yes to (with the key it is under) passes too.
 * Returns the same value when nothing changed, so a caller can tell.
 */
export async function editStrings(
  value: unknown,
  edit: EditString,
  keep: KeepString = () => false,
  key?: string,
): Promise<unknown> {
  if (typeof value === "string") return keep(key, value) ? value : await edit(value, key);
  if (!value || typeof value !== "object") return value;
  // Each level goes on in a microtask of its own: JSON nested thousands deep (which a client
  // may send) then costs heap, not a native stack that would overflow.
  await Promise.resolve();
  return Array.isArray(value)
    ? await editItems(value, edit, keep, key)
    : await editFields(value as Record<string, unknown>, edit, keep);
}

async function editItems(
  items: unknown[],
  edit: EditString,
  keep: KeepString,
  key: string | undefined,
): Promise<unknown[]> {
  let changed = false;
  const out: unknown[] = [];
  for (const item of items) {
    const edited = await editStrings(item, edit, keep, key);
    if (edited !== item) changed = true;
    out.push(edited);
  }
  return changed ? out : items;
}

async function editFields(
  fields: Record<string, unknown>,
  edit: EditString,
  keep: KeepString,
): Promise<Record<string, unknown>> {
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(fields)) {
    const editedName = await edit(name);
    const edited = await editStrings(item, edit, keep, name);
    if (editedName !== name || edited !== item) changed = true;
    out[editedName] = edited;
  }
  return changed ? out : fields;
}

/**
 * `text` with `edit` applied to every string in it (keys and values) when it is JSON, the way
 * tool-call arguments come; else `edit` of the whole text. Editing the strings of the parsed
 * value keeps the JSON valid whatever a replacement holds (a quote, a backslash). Unchanged
 * text is returned as it came, byte for byte.
 */
export async function editJsonStrings(text: string, edit: EditString): Promise<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return await edit(text);
  }
  const edited = await editStrings(parsed, edit);
  return edited === parsed ? text : JSON.stringify(edited);
}

/** A message's fields the tool guard checks (and sanitizes), not the text pass. */
const CALL_FIELDS = new Set(["tool_calls", "function_call"]);

/**
 * Sanitizes every string of a whole reply's choice as its text: the message's content,
 * reasoning and refusal, and whatever else the choice or a content part carries (a completion's
 * `text`, a refusal part, an annotation's title), since an upstream may put the reply's text
 * anywhere. The message's calls are left to the tool guard and the log probabilities to the
 * caller, which drops them when this returns true: something was redacted.
 */
export async function sanitizeChoice(
  guard: Guard,
  session: string,
  choice: Record<string, unknown>,
  scope: RestoreScope = {},
): Promise<boolean> {
  let redacted = false;
  const sanitized = async (text: string) => {
    const out = await guard.sanitizeOutput(session, text, "placeholder", scope);
    if (out.findings.length) redacted = true;
    return out.text;
  };
  for (const [key, value] of Object.entries(choice)) {
    if (key === "logprobs") continue;
    if (key !== "message" || !value || typeof value !== "object") {
      choice[key] = await editStrings(value, sanitized);
      continue;
    }
    const message = value as Record<string, unknown>;
    for (const [field, text] of Object.entries(message)) {
      if (!CALL_FIELDS.has(field)) message[field] = await editStrings(text, sanitized);
    }
  }
  return redacted;
}

/**
 * Runs the tool guard on the model's tool calls before the client can execute them. The
 * session's placeholders in a call's arguments are first put back where policy restores
 * originals (the model saw `[EMAIL_1]`; the tool must get the address, and the guard must judge
 * the value that will really go out). A blocked call is removed and explained in the content; a
 * call that needs approval stays and is named in the approval header. A call that stays has
 * its name and arguments sanitized as the reply's text is: values that are not the user's own
 * (a card, an address the model wrote) are redacted before the client sees them. Returns the
 * ids of the calls that need approval.
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
    // The guard judges the call as the model wrote it, so that it sees the host or value that
    // redaction would hide; the client gets the call redacted.
    const d = await guard.inspectToolCall(session, { tool: call.function?.name ?? "", args });
    if (d.decision === "block") blocked.push(`${call.function?.name}: ${d.reasons.join("; ")}`);
    else {
      if (call.function) call.function = await sanitizedCall(guard, session, call.function, scope);
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
 * A call's name and arguments (each string of them when they are JSON) with the values that are
 * not the user's own redacted.
 */
async function sanitizedCall(
  guard: Guard,
  session: string,
  call: NonNullable<ToolCallMessage["function"]>,
  scope: RestoreScope,
): Promise<NonNullable<ToolCallMessage["function"]>> {
  const types = new Set<string>();
  const redact = async (text: string) => {
    const out = await redactOthersValues(guard, session, text, scope);
    for (const type of out.types) types.add(type);
    return out.text;
  };
  const sanitized = {
    ...call,
    ...(typeof call.name === "string" ? { name: await redact(call.name) } : {}),
    ...(typeof call.arguments === "string"
      ? { arguments: await editJsonStrings(call.arguments, redact) }
      : {}),
  };
  if (types.size) {
    await guard.recordCallRedaction(session, sanitized.name ?? "", [...types]);
  }
  return sanitized;
}

/**
 * `text` of a call (its placeholders already restored) as a reply's text is sanitized, with the
 * types it redacted: a value
 * the user sent passes where policy gives the user's values back, anything else found becomes a
 * placeholder. But values policy counts as `Normal` (a URL) pass, which the reply's text loses:
 * a tool that fetches a page needs its address, and the tool guard has judged its host.
 */
async function redactOthersValues(
  guard: Guard,
  session: string,
  text: string,
  scope: RestoreScope,
): Promise<{ text: string; types: string[] }> {
  const found = guard.classifier.classify(text).findings
    .filter((f) => guard.levelOf([f]) !== "Normal");
  if (!found.length) return { text, types: [] };
  const vault = await guard.vault(session);
  const ownValuesPass = guard.policy.restoreOriginals && scope.ownValues !== false;
  const others = ownValuesPass
    ? found.filter((f) => !vault.holds(text.slice(f.start, f.end), ownOrigins(scope)))
    : found;
  return {
    text: sanitize(text, others, "placeholder", vault, "output"),
    types: others.map((f) => f.type),
  };
}

/**
 * The tool guard on a reply's `function_call`, the one call of OpenAI's older functions API,
 * which clients that send `functions` still get: checked like a tool call (arguments restored,
 * then sanitized; removed and explained when blocked). Returns its name when it needs approval.
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
  // Without an id, a call that needs approval is named by its name, sanitized.
  const probe: ReplyChoice = {
    message: { content: message.content, tool_calls: [{ function: call }] },
  };
  const held = await checkToolCalls(guard, session, probe, scope);
  message.content = probe.message!.content;
  const checked = probe.message!.tool_calls?.[0]?.function;
  if (checked) {
    message.function_call = { name: checked.name ?? "", arguments: checked.arguments ?? "" };
  } else {
    delete message.function_call;
    choice.finish_reason = "stop";
  }
  return held;
}
