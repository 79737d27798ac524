/**
 * The OpenAI-compatible proxy: `POST /safeclaw/v1/chat/completions` runs the whole pipeline on
 * the request (classification, injection, redaction, the session ratchet), forwards it to a
 * local upstream (power) or, only when the data allows, to a remote one, and sanitizes the reply,
 * streamed or not. OpenAI's clients work unchanged with `baseURL: <server>/safeclaw/v1`.
 */
import type { Context } from "hono";
import type { Guard, HistoryReview, InputDecision, RestoreScope } from "./guard.ts";
import { placeholdersIn, type VaultOrigin } from "./sanitize.ts";
import { atLeast, type Level } from "./privacy/levels.ts";
import type { Detection } from "./privacy/entities.ts";
import {
  acrossGroups,
  type GroupSpan,
  layOut,
  reachesGroup,
  splicePieces,
  spliceRanges,
} from "./proxy_split.ts";
import {
  APPROVAL_HEADER,
  checkFunctionCall,
  checkToolCalls,
  editJsonStrings,
  editStrings,
  sanitizeChoice,
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
  /**
   * What a binary attachment does to the route: a data URL, `file_data` or `input_audio.data`
   * that does not decode to text (an image, a PDF, audio) or is larger than
   * {@linkcode MAX_DECODED_PAYLOAD} cannot be read by the classifier. `"remote"` (the default)
   * lets it go to the remote model unjudged, as vision and audio models need; `"local"` keeps
   * any turn that carries one local, for a policy that will not send what it cannot read.
   * Attachments that decode to text are always judged, whatever this says.
   */
  binaryPayloads?: "remote" | "local";
}

/**
 * The largest base64 attachment (in characters of its base64 text) that is decoded and judged
 * as text. Larger ones count as binary: decoding and classifying them would let one request
 * hold the server for long, and a text attachment that large is rare.
 */
export const MAX_DECODED_PAYLOAD = 2 * 1024 * 1024;

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
 * `content` with its text redacted: a string becomes `redacted`, or where that is not given (the
 * string was edited after its review: a value split across messages taken out) the string
 * redacted here; a list of parts keeps every part that is not text (an image, a file) and gets
 * each text part redacted on its own.
 */
async function redactedContent(
  guard: Guard,
  session: string,
  content: unknown,
  redacted: string | undefined,
  origin: VaultOrigin,
): Promise<unknown> {
  if (!Array.isArray(content)) {
    if (redacted !== undefined || typeof content !== "string") return redacted ?? content;
    return (await guard.reviewHistory(session, content, origin)).text;
  }
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
 * The request as it goes upstream, and whether it must stay local; or the 403 that blocks it.
 * The turn's new messages are inspected (classified, checked for injection, audited, redacted);
 * everything else in the request is reviewed as the history is.
 */
async function reviewRequest(
  guard: Guard,
  session: string,
  body: { messages: ChatMessage[] } & Record<string, unknown>,
  binaryPayloads: "remote" | "local",
): Promise<{ forwarded: Record<string, unknown>; localOnly: boolean } | Response> {
  const messages = [...body.messages];
  const review = new RequestReview(guard, session);
  // Before each message's own review, as the join of a message's parts comes before each part's:
  // a split value's pieces come out of the messages; each is then judged as it was sent, and
  // redacted as it now reads.
  const fresh = newMessages(messages);
  const split = await review.acrossMessages(body.messages, new Set(fresh));
  const decisions: InputDecision[] = [];
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
    // A tool's result is vaulted apart from what the user typed, as its own review vaults it.
    const content = await review.acrossParts(
      split.get(i) ?? messages[i].content,
      `messages.${i}`,
      TOOL_RESULT_ROLES.has(messages[i].role) ? "untrusted" : "input",
      true,
    );
    // The decision's text is the message as sent redacted; one with a split value taken out
    // is redacted anew, or the value's pieces would be back.
    const own = split.has(i) ? undefined : decision.text;
    messages[i] = {
      ...messages[i],
      content: decision.action === "redact"
        ? await redactedContent(guard, session, content, own, "input")
        : content,
    };
  }
  for (const [index, message] of messages.entries()) {
    if (review.blocked) break;
    messages[index] = await reviewMessage(
      review,
      message,
      index,
      fresh.includes(index),
      split.get(index),
    );
  }
  const others = await reviewOtherFields(review, body);
  if (review.blocked) {
    const { field, level } = review.blocked;
    return openAiError(403, `blocked by safeclaw: ${field} carries ${level} data`, "blocked");
  }
  const sessionLevel = decisions.at(-1)?.sessionLevel ?? await guard.sessions.get(session);
  // The ratchet: once a session has carried local-only data, all of it stays local.
  const localOnly = decisions.some((d) => d.localOnly) || review.localOnly ||
    (binaryPayloads === "local" && review.unreadPayloads > 0) ||
    atLeast(sessionLevel, guard.policy.localOnlyAt);
  return { forwarded: { ...others, messages }, localOnly };
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
  // The request as the client sent it: a placeholder in it was typed, not written by us.
  const asSent = JSON.stringify(body);
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
  const reviewed = await reviewRequest(guard, session, body, upstreams.binaryPayloads ?? "remote");
  if (reviewed instanceof Response) return reviewed;
  const { forwarded, localOnly } = reviewed;
  // Only placeholders this request's redaction wrote are put back in the reply (a client can
  // name any session; the placeholders it types itself get nothing back).
  const typed = placeholdersIn(asSent);
  const scope: RestoreScope = {
    only: new Set([...placeholdersIn(JSON.stringify(forwarded))].filter((p) => !typed.has(p))),
    // The client sent the tool results itself: their values go back into its tool calls.
    untrusted: true,
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
      body: JSON.stringify(forwarded),
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
    const redacted = await sanitizeChoice(guard, session, choice, scope);
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

/** What policy says of some text of the request, as {@linkcode Guard.reviewHistory} answers. */
type Verdict = Pick<HistoryReview, "level" | "action" | "localOnly">;

/** A base64 data URL (an image, a file): its payload is read only when it decodes to text. */
const DATA_URL = /^data:[^,]*;base64,/i;
/** Keys of a content part whose string is a payload: `input_audio.data`, `file.file_data`. */
const PART_PAYLOADS = new Set(["data", "file_data"]);
/**
 * Base64 with nothing but line breaks around its characters, in the standard or the URL-safe
 * alphabet: a bare payload (`input_audio.data`) this looks like is an attachment even when it
 * does not decode to text. Other text (with spaces, say) that does not decode is the user's text.
 */
const BARE_BASE64 = /^(?:[A-Za-z0-9+/\r\n]*|[A-Za-z0-9\-_\r\n]*)={0,2}[\r\n]*$/;
/** ASCII whitespace, which decoders (atob, Node's Buffer, Python's b64decode) skip. */
const BASE64_SPACE = /[\t\n\f\r ]+/g;
/** Base64 once its whitespace is gone: either alphabet (or both, as lenient decoders take). */
const BASE64_CHARS = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/**
 * The bytes `base64` encodes, in the standard or the URL-safe alphabet, with or without
 * padding, with whitespace anywhere (wrapped at 76 columns, or spaced): as leniently as the
 * decoders the upstream or the model may use, since a text they read and this did not would go
 * out unread.
 */
function base64Bytes(base64: string): Uint8Array | undefined {
  const compact = base64.replace(BASE64_SPACE, "");
  if (!BASE64_CHARS.test(compact)) return undefined;
  try {
    return Uint8Array.from(
      atob(compact.replaceAll("-", "+").replaceAll("_", "/")),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
}

/**
 * The text `base64` encodes, or undefined when it is no base64, too large to read, or binary
 * (not UTF-8, or holding control characters that no text file has). Standard and URL-safe
 * base64 are read, whitespace in it skipped.
 */
export function decodedText(base64: string): string | undefined {
  // On the encoded length, before any work: it bounds the decoded text too.
  if (base64.length > MAX_DECODED_PAYLOAD) return undefined;
  const bytes = base64Bytes(base64);
  if (bytes === undefined) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
  // A tab, line breaks and a form feed are text; any other C0 control (a NUL above all) is the
  // mark of a binary format that happens to be valid UTF-8.
  // deno-lint-ignore no-control-regex -- control characters are what this looks for
  return /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

/** `text` as base64 of its UTF-8 bytes. */
function base64Of(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  // In slices: a spread of a whole large attachment would overflow the argument list.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * JSON text of `value` as the route judges it: numbers, keys and strings side by side, so that a
 * number (`{"card":4111111111111111}`) or a value cut across two strings is read, with base64
 * payloads left out (their text is judged decoded, and their base64 would only be noise).
 */
function routeText(name: string, value: unknown): string {
  return JSON.stringify(
    { [name]: value },
    (_key, item) => typeof item === "string" && DATA_URL.test(item) ? "" : item,
  );
}

/**
 * The review of the request's text that the turn's inspection does not cover: the history
 * (clients send the whole of it each turn, their own messages as typed and the replies as they
 * got them), every other field of a message (a `name`, a refusal, the reasoning) and of the
 * request (`tools`, `prediction`, `user`, ...). Each text goes as it did when new: redacted
 * alike with the session's placeholders where policy says. One whose data may not leave this
 * host keeps the turn (and the session) local; the first that policy blocks blocks the turn.
 */
class RequestReview {
  /** Whether some text reviewed may go only to a local model. */
  localOnly = false;
  /** The first field whose text policy blocks. */
  blocked?: { field: string; level: Level };
  /** How many attachments could not be read as text (binary, or too large). */
  unreadPayloads = 0;

  constructor(readonly guard: Guard, readonly session: string) {}

  /** Notes what policy says of the text at `field`. */
  async judge(field: string, verdict: Verdict): Promise<void> {
    if (verdict.action === "block") this.blocked ??= { field, level: verdict.level };
    if (verdict.localOnly) {
      this.localOnly = true;
      await this.guard.sessions.raise(this.session, verdict.level);
    }
  }

  /**
   * Judges `text` for the route and the session's level only: nothing of it is rewritten. For
   * text that cannot be edited where it stands (a number, a value split across two messages).
   */
  async judgeOnly(text: string, field: string): Promise<void> {
    await this.#judgeFindings(this.guard.classifier.classify(text).findings, field);
  }

  /** Judges `findings` at their level, as {@linkcode judge} does; the action policy takes. */
  async #judgeFindings(
    findings: readonly Detection[],
    field: string,
  ): Promise<Verdict["action"] | undefined> {
    if (!findings.length) return undefined;
    const level = this.guard.levelOf(findings);
    const action = this.guard.actionAt(level).action;
    const localOnly = action === "local_only" || atLeast(level, this.guard.policy.localOnlyAt);
    await this.judge(field, { level, action, localOnly });
    return action;
  }

  /**
   * Judges the text of the user's messages laid end to end: a value the user sent in two
   * messages (`"card 4111 1111"`, then `"1111 1111"`) is in neither. Joined with a space and
   * with nothing between, as a client may cut a value at a separator or within a group; a
   * message's text parts are joined the same way (a value can be cut at a part's end and at a
   * message's), and the whitespace at each boundary is not read, so that a line break ending a
   * message or an empty message between two halves changes nothing. Only the user's messages:
   * a reply or a tool's result next to them is another author's text, and joining those would
   * make values that nobody sent. Only what the join made counts, a value with characters of
   * two messages that no value within one message explains ({@linkcode acrossGroups}): a value
   * within a message is that message's own review's to judge, and glued to its neighbour's
   * text it would only read as something it is not and take that text with it. Each value is
   * read in a window that ends with the message its last piece is in, so the next message's
   * first word is never read as part of it, nor can it make the pieces read as no value.
   *
   * Joined with a space, numbers in consecutive messages can read as one value that nobody
   * meant (`I have 415`, then `555 2671 apples`, as a phone number): the earlier fragment ends
   * its message and the later one starts its own, exactly as a number cut in two does, and no
   * rule on the text tells the two apart. Such a reading is redacted: a placeholder in place of
   * a count costs the reply some sense, a phone number sent in clear cannot be taken back.
   *
   * A value with characters of one of the turn's new messages (`fresh`, by index) is tracked as
   * a taint of the session, as the values of a new message are. Where policy redacts at the
   * values' level, they are taken out as {@linkcode acrossParts} takes a value out of parts:
   * the session's placeholder in the message (and part) where the value begins, its characters
   * removed from the later ones; the vault keeps the value as the join read it. Returns the
   * content of each message so edited, by index; each message's own review is the caller's, on
   * what it sent.
   */
  async acrossMessages(
    messages: readonly ChatMessage[],
    fresh: ReadonlySet<number> = new Set(),
  ): Promise<Map<number, unknown>> {
    const users = messages.flatMap((message, index) => {
      const pieces = message.role === "user" ? textPieces(message.content) : undefined;
      return pieces === undefined ? [] : [{ index, pieces }];
    });
    const edited = new Map<number, unknown>();
    if (users.length < 2) return edited;
    let pieces: readonly (readonly string[])[] = users.map((u) => u.pieces);
    // A space first: the value then reads as the user wrote it, cut at a separator. Glued, a
    // value cut within a group is found; either way it ends in the message of its last piece.
    for (const separator of [" ", ""]) {
      const layout = layOut(pieces, separator);
      if (layout.groups.length < 2) break;
      // The other readings of the values found (`tozed.private@example.com` beside
      // `zed.private@example.com`): tracked with them, never redacted.
      const readings: Detection[] = [];
      const findings = acrossGroups(
        layout,
        (text) => this.guard.classifier.classify(text).findings,
        separator !== "",
        readings,
      );
      if (!findings.length) continue;
      // An earlier turn tracked those wholly in the history, when their last piece was new.
      this.guard.trackFindings(
        this.session,
        layout.text,
        [...findings, ...readings].filter((f) =>
          reachesGroup(layout, f, (g) => fresh.has(users[g].index))
        ),
        "user",
      );
      if (await this.#judgeFindings(findings, "messages") !== "redact") continue;
      const vault = await this.guard.vault(this.session);
      // The join with nothing then reads what this one left: no value is replaced twice.
      pieces = splicePieces(
        layout,
        pieces,
        findings.map((f) => ({
          ...f,
          replacement: vault.placeholderFor(f.type, layout.text.slice(f.start, f.end), "input"),
        })),
      );
    }
    users.forEach(({ index, pieces: before }, i) => {
      if (pieces[i].every((piece, j) => piece === before[j])) return;
      const content = messages[index].content;
      if (!Array.isArray(content)) {
        edited.set(index, pieces[i][0]);
        return;
      }
      const out = [...content];
      textParts(content).forEach(({ index: at }, j) =>
        out[at] = { ...out[at], text: pieces[i][j] }
      );
      edited.set(index, out);
    });
    return edited;
  }

  /** `text` of `field` as it goes upstream. */
  async text(text: string, field: string, origin: VaultOrigin): Promise<string> {
    const past = await this.guard.reviewHistory(this.session, text, origin);
    await this.judge(field, past);
    return past.text;
  }

  /**
   * A `name` (of a message, a call) as it goes upstream. Names are identifiers, with `_` for a
   * space, and the classifier reads `card_4111111111111111` as one word: it is also judged with
   * its underscores read as spaces, for the turn's route.
   */
  async name(name: string, field: string, origin: VaultOrigin): Promise<string> {
    if (name.includes("_")) await this.text(name.replaceAll("_", " "), field, origin);
    return await this.text(name, field, origin);
  }

  /**
   * `value` (under the key `name`) with every string in it reviewed as a text, an attachment's
   * decoded text included; and its JSON judged whole for the route, since a number or a value
   * cut across two strings is in no string of it. `payloadKeys`: the keys whose strings are
   * attachments even without a data URL's prefix (in a content part).
   */
  async strings(
    value: unknown,
    field: string,
    origin: VaultOrigin,
    name: string,
    payloadKeys: ReadonlySet<string> = new Set(),
  ): Promise<unknown> {
    if (value !== null && typeof value === "object" || typeof value === "number") {
      await this.judgeOnly(routeText(name, value), field);
    }
    return await editStrings(
      value,
      (text, key) =>
        DATA_URL.test(text) || payloadKeys.has(key ?? "")
          ? this.payload(text, field, origin)
          : this.text(text, field, origin),
    );
  }

  /**
   * An attachment as it goes upstream. One that decodes to text is reviewed as text is, and
   * encoded again when redacted; one that is no base64 at all is text as it stands. A binary
   * one passes unread and is counted (see {@linkcode ProxyUpstreams.binaryPayloads}).
   */
  async payload(payload: string, field: string, origin: VaultOrigin): Promise<string> {
    const prefix = DATA_URL.exec(payload)?.[0];
    const base64 = prefix === undefined ? payload : payload.slice(prefix.length);
    const decoded = decodedText(base64);
    if (decoded === undefined && prefix === undefined && !BARE_BASE64.test(base64)) {
      return await this.text(payload, field, origin);
    }
    if (decoded === undefined) {
      this.unreadPayloads++;
      // Digits are base64 too: a bare card number in `input_audio.data` decodes to noise, so
      // the raw text is judged as well (a data URL's base64 is never a value's text).
      if (prefix === undefined) await this.judgeOnly(payload, field);
      return payload;
    }
    if (prefix === undefined) await this.judgeOnly(payload, field);
    const reviewed = await this.text(decoded, field, origin);
    return reviewed === decoded ? payload : (prefix ?? "") + base64Of(reviewed);
  }

  /**
   * `content` with the values no single text part shows whole (`"write to zed@"`, then
   * `"example.com"`): found in the parts' texts joined with nothing between them, each ending
   * in the part its last piece is in (those that a value within one part explains left out,
   * see {@linkcode acrossGroups}), judged by
   * policy at their level, and redacted where it says so, the placeholder in the part where the
   * value begins. Each part is still read on its own (joined, a card followed by a word is no
   * card), by the caller. In one of the turn's new messages (`fresh`) the values are tracked as
   * the session's taints, as the message's inspection tracks those of one part.
   */
  async acrossParts(
    content: unknown,
    field: string,
    origin: VaultOrigin,
    fresh = false,
  ): Promise<unknown> {
    const parts = textParts(content);
    if (!Array.isArray(content) || parts.length < 2) return content;
    const ranges: GroupSpan[] = [];
    let end = 0;
    parts.forEach(({ text }, group) => {
      ranges.push({ group, start: end, end: end + text.length });
      end += text.length;
    });
    const glued = parts.map((p) => p.text).join("");
    // As across messages: a value one part holds whole is that part's own, not a value with
    // the next part's first word glued on (`zed.private@example.com`, then `thanks`).
    const readings: Detection[] = [];
    const split = acrossGroups(
      { text: glued, groups: ranges },
      (text) => this.guard.classifier.classify(text).findings,
      false,
      readings,
    );
    if (!split.length) return content;
    // A new message's values, tracked as those of one part are (by the message's inspection),
    // in every reading the join gave them.
    if (fresh) {
      this.guard.trackFindings(
        this.session,
        glued,
        [...split, ...readings],
        origin === "input" ? "user" : "tool_result",
      );
    }
    const level = this.guard.levelOf(split);
    const action = this.guard.actionAt(level).action;
    const localOnly = action === "local_only" || atLeast(level, this.guard.policy.localOnlyAt);
    await this.judge(field, { level, action, localOnly });
    if (action !== "redact") return content;
    const vault = await this.guard.vault(this.session);
    const texts = spliceRanges(
      glued,
      ranges,
      split.map((f) => ({
        ...f,
        replacement: vault.placeholderFor(f.type, glued.slice(f.start, f.end), origin),
      })),
    );
    const out = [...content];
    parts.forEach(({ index }, i) => out[index] = { ...out[index], text: texts[i] });
    return out;
  }
}

/** The text parts of a content array, with where each is in it. */
function textParts(content: unknown): { index: number; text: string }[] {
  if (!Array.isArray(content)) return [];
  const parts: { index: number; text: string }[] = [];
  content.forEach((part, index) => {
    const text = part && typeof part === "object" ? (part as { text?: unknown }).text : undefined;
    if (typeof text === "string") parts.push({ index, text });
  });
  return parts;
}

/**
 * The texts of `content` that {@linkcode textOf} joins with line breaks: the string, or each
 * text part's; undefined when it has none.
 */
function textPieces(content: unknown): string[] | undefined {
  if (typeof content === "string") return [content];
  const parts = textParts(content).map((p) => p.text);
  return parts.length ? parts : undefined;
}

/** A message's fields that carry no text: its role and the id of the call it answers. */
const MESSAGE_STRUCTURE = new Set(["role", "tool_call_id"]);

/**
 * `message` as it goes upstream: its content's text reviewed unless it is one of the turn's new
 * messages (inspected already), and every other string of it reviewed as an earlier message's.
 */
async function reviewMessage(
  review: RequestReview,
  message: ChatMessage,
  index: number,
  fresh: boolean,
  split?: unknown,
): Promise<ChatMessage> {
  const field = `messages.${index}`;
  const origin: VaultOrigin = message.role === "assistant"
    ? "output"
    : TOOL_RESULT_ROLES.has(message.role)
    ? "untrusted"
    : "input";
  const out: ChatMessage = { ...message };
  for (const [key, value] of Object.entries(message)) {
    if (MESSAGE_STRUCTURE.has(key) || value === null || value === undefined) continue;
    if (key === "content") {
      const text = fresh
        ? value
        : await reviewContentText(review, value, field, origin, split ?? value);
      out.content = await reviewPartExtras(review, text, field, origin);
    } else if (key === "tool_calls" && Array.isArray(value)) {
      const calls: unknown[] = [];
      for (const call of value) calls.push(await reviewToolCall(review, call, field, origin));
      out.tool_calls = calls;
    } else if (key === "function_call") {
      out.function_call = await reviewCall(review, value, field, origin);
    } else out[key] = await reviewField(review, key, value, field, origin);
  }
  return out;
}

/** Any other field of a message or a call: a `name` read as a name, the rest string by string. */
async function reviewField(
  review: RequestReview,
  key: string,
  value: unknown,
  field: string,
  origin: VaultOrigin,
): Promise<unknown> {
  return key === "name" && typeof value === "string"
    ? await review.name(value, field, origin)
    : await review.strings(value, field, origin, key);
}

/**
 * An earlier message's content with its text reviewed: as a whole, across parts, part by part.
 * `split`: the content with the values split across messages taken out
 * ({@linkcode RequestReview.acrossMessages}), which is what goes upstream; the text is judged
 * as it was sent.
 */
async function reviewContentText(
  review: RequestReview,
  content: unknown,
  field: string,
  origin: VaultOrigin,
  split: unknown,
): Promise<unknown> {
  const joined = await review.acrossParts(split, field, origin);
  const text = textOf(content);
  if (text === undefined) return joined;
  const reviewed = await review.text(text, field, origin);
  const own = split === content ? reviewed : undefined;
  return reviewed === text
    ? joined
    : await redactedContent(review.guard, review.session, joined, own, origin);
}

/**
 * Content parts with their strings beside the text reviewed (a `refusal` part, an image's URL,
 * a file's name); a part's type and binary payloads (a data URL, audio data) pass.
 */
async function reviewPartExtras(
  review: RequestReview,
  content: unknown,
  field: string,
  origin: VaultOrigin,
): Promise<unknown> {
  if (!Array.isArray(content)) return content;
  const out: unknown[] = [];
  for (const part of content) {
    if (!part || typeof part !== "object") {
      out.push(part);
      continue;
    }
    const { type, text, ...extras } = part as Record<string, unknown>;
    const reviewed = await review.strings(extras, field, origin, String(type), PART_PAYLOADS);
    out.push(
      reviewed === extras
        ? part
        : { type, ...(text === undefined ? {} : { text }), ...reviewed as object },
    );
  }
  return out;
}

/** A tool call of an earlier reply as it goes upstream; its id and type are no text. */
async function reviewToolCall(
  review: RequestReview,
  call: unknown,
  field: string,
  origin: VaultOrigin,
): Promise<unknown> {
  if (!call || typeof call !== "object") return call;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(call)) {
    out[key] = key === "id" || key === "type"
      ? value
      : key === "function"
      ? await reviewCall(review, value, field, origin)
      : await review.strings(value, field, origin, key);
  }
  return out;
}

/**
 * A call's name and arguments as they go upstream: each string of the arguments redacted as
 * text is (the JSON stays valid), and their raw text also judged whole, since a number
 * (`{"card":4111111111111111}`) or a value cut across two strings is in no string of them.
 */
async function reviewCall(
  review: RequestReview,
  call: unknown,
  field: string,
  origin: VaultOrigin,
): Promise<unknown> {
  if (!call || typeof call !== "object") return call;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(call)) {
    if (key === "arguments" && typeof value === "string") {
      // Judged whole for the route only; what goes upstream is the JSON redacted string by string.
      await review.text(value, field, origin);
      out.arguments = await editJsonStrings(value, (text) => review.text(text, field, origin));
    } else out[key] = await reviewField(review, key, value, field, origin);
  }
  return out;
}

/**
 * The request's fields beside the messages (`tools` and their descriptions, `prediction`,
 * `metadata`, `user`, ...) as they go upstream: each string of them reviewed as the user's text.
 */
async function reviewOtherFields(
  review: RequestReview,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key !== "messages") out[key] = await review.strings(value, key, "input", key);
  }
  return out;
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
