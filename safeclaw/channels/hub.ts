/**
 * The channel hub: a webhook request is verified by its platform's adapter (401 and an audit
 * record when it fails), the message goes through safeclaw (classify, injection, ratchet),
 * then through lane, one queue per session, to the responder, and the reply comes back through
 * safeclaw's output sanitizer to the platform. In serve the lane is the lane module's, so chat
 * turns show in `lane stats`, `/lane/v1/*` and lane's events.
 */
import { isLoopbackUrl } from "@a3s/common";
import { createLane, type JobContext, type Lane, type LaneStats } from "@a3s/lane";
import type { Guard } from "../guard.ts";
import { createHash } from "node:crypto";
import { type Deliveries, RecentDeliveries } from "./deliveries.ts";
import type { ChannelAdapter, ChannelMessage, ReplyProgress } from "./types.ts";
import { PlatformRateLimited } from "./rate_limit.ts";
import { AuditCoalescer } from "./audit_coalescer.ts";
import { knownClient } from "./client_address.ts";

/**
 * Answers one message: the configured chat API, or the agent once it registers itself through
 * `ChannelResponders` (see routes.ts).
 */
export type Responder = (input: {
  session: string;
  /** The message as safeclaw passes it on (redacted where policy says so). */
  text: string;
  /** True when the session's data may only go to local models. */
  localOnly: boolean;
  /** Aborted when the reply is no longer wanted (a WebChat page closed): stop the turn. */
  signal?: AbortSignal;
}) => Promise<string>;

/**
 * The request header that tells an OpenAI-compatible responder on this host (code's
 * `/code/v1/chat/completions`) that the conversation's data may only go to local models: the
 * agent behind it then checks every model call of the turn (subagents, compaction, plans).
 */
export const LOCAL_ONLY_HEADER = "x-a3s-local-only";

/** What a chat user is told when their data may go only to a local model and the responder's is remote. */
export const LOCAL_ONLY_REFUSAL =
  "This conversation holds data that may only go to a local model, and this chat's model is remote.";

/**
 * A responder that asks an OpenAI-compatible chat API (power by default). A local-only message
 * is refused, not sent, when the API is not on this host.
 */
export function chatResponder(baseUrl: string, model: string): Responder {
  const local = isLoopbackUrl(baseUrl);
  return async ({ text, localOnly }) => {
    if (localOnly && !local) return LOCAL_ONLY_REFUSAL;
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", [LOCAL_ONLY_HEADER]: String(localOnly) },
      body: JSON.stringify({ model, messages: [{ role: "user", content: text }], stream: false }),
    });
    if (!res.ok) throw new Error(`responder: ${res.status} ${await res.text()}`);
    const body = await res.json() as { choices?: { message?: { content?: string } }[] };
    return body.choices?.[0]?.message?.content ?? "";
  };
}

/** What a user is sent when the responder produced no text, rather than an empty message. */
export const NO_ANSWER = "No answer could be produced for this message.";

/**
 * What a user is sent when the answer failed. The error itself may quote the message, a tool's
 * output or an upstream's reply, so it goes only to the audit log, redacted, under `record`.
 */
export function replyFailedNotice(record?: number): string {
  const where = record === undefined ? "" : ` (safeclaw audit record ${record})`;
  return `The reply to this message failed${where}. Please try again.`;
}

/** The jobs the hub's lane runs never throw: a failure is their result, so none is dead-lettered. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function outcomeOf<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The lane job kind of a chat turn on a served lane; its payload is `{ turn }`, never the text. */
export const CHAT_TURN_KIND = "safeclaw.chat.turn";

/**
 * Chat turns answered at once: the `prompt` lane's limit unless the operator set one (its
 * upstream default, 2, let two slow chats hold every other one).
 */
export const CHAT_CONCURRENCY = 8;

/**
 * What a chat turn's job leaves as its result in the lane, and so in the store: whether it was
 * answered, and why not (redacted), never the message or the reply.
 */
export interface ChatTurnResult {
  /** True when the responder answered (a reply that then failed to send still counts). */
  answered: boolean;
  /** Why the turn failed, every finding replaced by its type. */
  error?: string;
  /**
   * The turn was not this process's: queued before a restart, or by another process on the
   * same store. Nothing ran; the process that queued it (if it still runs) queues it again.
   */
  elsewhere?: true;
}

/**
 * The turns this process queued on a served lane and that have not started, by id. Only this
 * process can run one (it is a closure over the message), so the job carries just its id.
 */
const TURNS = new Map<string, () => Promise<ChatTurnResult>>();

/** How often a turn another process's worker took (and could not run) is queued again. */
const MAX_REQUEUES = 10;

/** The handler of {@linkcode CHAT_TURN_KIND}: runs the turn, if it is this process's. */
function runTurn(ctx: JobContext): Promise<ChatTurnResult> | ChatTurnResult {
  const id = (ctx.payload as { turn?: unknown } | null)?.turn;
  const turn = typeof id === "string" ? TURNS.get(id) : undefined;
  if (!turn) return { answered: false, elsewhere: true };
  TURNS.delete(id as string);
  return turn();
}

/** Waits before each retry of a reply the platform's API did not take. */
export const SEND_RETRY_DELAYS_MS: readonly number[] = [500, 2_000, 5_000];

/** The longest one wait that a rate-limiting platform asks for is honoured. */
export const MAX_RETRY_WAIT_MS = 60_000;

/**
 * The most one reply waits in all between its tries: a reply in flight holds up `settle` (serve's
 * drain before the agent closes), and a buggy or hostile API could keep asking for more time.
 */
export const RETRY_BUDGET_MS = 120_000;

/**
 * The body of every 401 a webhook gets. The reason goes to the audit log only: told to the
 * caller, "does not decrypt" against "signature does not match" was a padding oracle that read
 * a captured Feishu event without the key.
 */
export const UNAUTHORIZED_BODY: { readonly error: "unauthorized" } = { error: "unauthorized" };

/**
 * The largest webhook body read, however high the server's body limit is set: a larger one is
 * refused unread. Platforms send events of a few KB and cap a message's text far below this
 * (Telegram at 4,096 characters, Discord at 2,000, Slack at 40,000), and Discord's largest
 * events, with resolved members and attachments, stay well under it too. A higher server limit
 * is for the API's own requests (chat turns with images) and does not raise this one: a
 * webhook body is read before anything verifies it, so whatever it may hold, anyone can make
 * each request hold that much.
 */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/**
 * The largest webhook body the hub reads under the server's configured body limit
 * (`bodyLimit` of the server's config: `--body-limit`, `A3S_BODY_LIMIT`): that limit where it is
 * the smaller, else {@linkcode MAX_WEBHOOK_BODY_BYTES}; that alone when no limit is given. The
 * webhooks bound their body themselves (serve leaves self-authenticated routes to their
 * handler, so that an oversized request is audited too), and a fixed bound there let anyone
 * send them bodies up to 1 MiB on a server whose limit said 64 KB.
 *
 * @throws {RangeError} When `configured` is not a positive whole number of bytes: a limit of
 * 0, a fraction or NaN would refuse every webhook, or compare as no limit at all.
 *
 * @example
 * ```ts
 * import { MAX_WEBHOOK_BODY_BYTES, webhookBodyLimit } from "./hub.ts";
 * console.log(webhookBodyLimit(64 * 1024)); // 65536
 * console.log(webhookBodyLimit(8 * 1024 * 1024) === MAX_WEBHOOK_BODY_BYTES); // true
 * console.log(webhookBodyLimit(undefined) === MAX_WEBHOOK_BODY_BYTES); // true
 * ```
 */
export function webhookBodyLimit(configured: number | undefined): number {
  if (configured === undefined) return MAX_WEBHOOK_BODY_BYTES;
  if (!Number.isSafeInteger(configured) || configured <= 0) {
    throw new RangeError(
      `bodyLimit must be a positive whole number of bytes, got ${String(configured)}`,
    );
  }
  return Math.min(configured, MAX_WEBHOOK_BODY_BYTES);
}

/** The audit kind of a verified delivery the hub had already handled. */
export const DUPLICATE_DELIVERY_KIND = "channel_duplicate_delivery";

/** The audit kind of a refused webhook request. */
export const AUTH_FAILURE_KIND = "channel_auth_failure";

/** The audit reason of a webhook request whose body broke off before its end. */
export const BROKEN_BODY_REASON = "body broke off before its end";

/** The message a failed reply answered: enough to name it in a log. */
export type FailedReply = Pick<ChannelMessage, "channel" | "session">;

/** Options of {@linkcode ChannelHub}. */
export interface ChannelHubOptions {
  /** Told of a message whose reply failed, a WebChat one too (it is also audited). */
  onError?: (error: unknown, message: FailedReply) => void;
  /** Waits before each retry of a reply the platform's API refused. */
  retryDelaysMs?: readonly number[];
  /** The longest wait a rate-limiting platform may ask for before a retry ({@linkcode MAX_RETRY_WAIT_MS}). */
  maxRetryWaitMs?: number;
  /** The most one reply waits between its tries, all waits together ({@linkcode RETRY_BUDGET_MS}). */
  retryBudgetMs?: number;
  /** Where deliveries are remembered: the store's log in serve (across restarts), else memory. */
  deliveries?: Deliveries;
  /**
   * The server's configured body limit (`bodyLimit` of its config: `--body-limit`,
   * `A3S_BODY_LIMIT`). Webhook bodies are read up to the smaller of it and
   * {@linkcode MAX_WEBHOOK_BODY_BYTES} ({@linkcode webhookBodyLimit}); without it, up to the
   * latter. The constructor throws a `RangeError` for one that is not a positive whole number.
   */
  bodyLimit?: number;
  /**
   * How long repeated refusals of one channel, reason and client network are counted into one
   * audit record.
   */
  auditWindowMs?: number;
  /**
   * Told of an audit record of a refusal or a redelivery that could not be written: those are
   * written after the request is answered, so the error has no request to go to.
   */
  onAuditError?: (error: unknown) => void;
  /** The clock of the audit's windows (tests pin it). */
  now?: () => number;
  /**
   * The scheduler chat turns queue on: serve's lane module, so its tools show them. Each turn is
   * a job of kind {@linkcode CHAT_TURN_KIND} in the `prompt` lane, one at a time per session;
   * the lane's `prompt` limit is raised to {@linkcode CHAT_CONCURRENCY} unless its config sets
   * one. Without it (library use, tests) the hub keeps a lane of its own in memory.
   */
  lane?: Lane;
}

/** The hub. */
export class ChannelHub {
  #adapters = new Map<string, ChannelAdapter>();
  #lane: Lane;
  /** True when `#lane` is served (the lane module's): the hub neither orders nor closes it. */
  readonly #served: boolean;
  /** The last turn of each session on a served lane, which the session's next one waits for. */
  readonly #turns = new Map<string, Promise<void>>();
  #pending = new Set<Promise<unknown>>();
  /** The last reply of each session still being sent, which the session's next one waits for. */
  readonly #sending = new Map<string, Promise<void>>();

  private readonly onError: (error: unknown, message: FailedReply) => void;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxRetryWaitMs: number;
  private readonly retryBudgetMs: number;
  private readonly deliveries: Deliveries;
  readonly #maxBodyBytes: number;
  readonly #audit: AuditCoalescer;

  /**
   * A hub for `adapters` that answers through `responder`; throws a `RangeError` for a
   * `bodyLimit` that is not a positive whole number of bytes.
   */
  constructor(
    private readonly guard: Guard,
    adapters: readonly ChannelAdapter[],
    private readonly responder: Responder,
    options: ChannelHubOptions = {},
  ) {
    // First: a hub refused for its limit has started no lane to be left running.
    this.#maxBodyBytes = webhookBodyLimit(options.bodyLimit);
    for (const a of adapters) this.#adapters.set(a.name, a);
    this.#served = options.lane !== undefined;
    if (options.lane) {
      this.#lane = options.lane;
      this.#lane.limits.raiseDefault("prompt", CHAT_CONCURRENCY);
      this.#lane.handle(CHAT_TURN_KIND, runTurn);
    } else {
      // Chats run side by side up to 8; each chat's messages one at a time, in order.
      this.#lane = createLane({
        maxConcurrency: CHAT_CONCURRENCY,
        sessionConcurrency: 1,
        lanes: { prompt: { maxConcurrency: CHAT_CONCURRENCY } },
      });
    }
    this.onError = options.onError ?? (() => {});
    this.retryDelaysMs = options.retryDelaysMs ?? SEND_RETRY_DELAYS_MS;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? MAX_RETRY_WAIT_MS;
    this.retryBudgetMs = options.retryBudgetMs ?? RETRY_BUDGET_MS;
    this.deliveries = options.deliveries ?? new RecentDeliveries();
    const onAuditError = options.onAuditError ?? (() => {});
    this.#audit = new AuditCoalescer(
      (record) => this.guard.audit.append({ ...record, session: null }),
      { windowMs: options.auditWindowMs, now: options.now, onError: onAuditError },
    );
  }

  /** The configured channel names. */
  get channels(): string[] {
    return [...this.#adapters.keys()];
  }

  /** The largest webhook body read; a larger one gets a 413 ({@linkcode webhookBodyLimit}). */
  get maxBodyBytes(): number {
    return this.#maxBodyBytes;
  }

  /**
   * Handles one webhook request for `channel` from `address`, the client address serve's
   * security layer decided (`clientAddressOf`); a request from no known address counts as
   * `unknown`. It bounds the body itself, to {@linkcode ChannelHub.maxBodyBytes} (serve's own
   * body limit leaves self-authenticated routes to their handler), so an oversized request is
   * audited too.
   */
  async handle(channel: string, request: Request, address?: string): Promise<Response> {
    const adapter = this.#adapters.get(channel);
    if (!adapter) {
      return Response.json({ error: `no channel '${channel}' is configured` }, { status: 404 });
    }
    const client = knownClient(address);
    const body = request.method === "GET"
      ? { kind: "read" as const, bytes: new Uint8Array() }
      : await readBody(request, this.#maxBodyBytes);
    if (body.kind === "too_large") {
      this.#audit.record(
        AUTH_FAILURE_KIND,
        "warning",
        channel,
        `body over ${this.#maxBodyBytes} bytes, refused unread`,
        client,
      );
      // The rest is left unread, and the connection goes with the answer: read to its end (as
      // cancelling the body does), a sender could keep the server reading an endless stream.
      return Response.json({ error: "payload too large" }, {
        status: 413,
        headers: { connection: "close" },
      });
    }
    if (body.kind === "broken") {
      this.#audit.record(AUTH_FAILURE_KIND, "warning", channel, BROKEN_BODY_REASON, client);
      return Response.json({ error: "the request body broke off before its end" }, {
        status: 400,
        headers: { connection: "close" },
      });
    }
    const raw = body.bytes;
    const result = await adapter.receive(request, raw, client);
    if (result.kind === "unauthorized") return this.#refuse(channel, result.reason, client);
    if (result.kind === "reply") return result.response;
    const ack = () => adapter.acknowledge?.() ?? Response.json({ ok: true });
    if (result.kind === "ignored") return ack();
    const message = result.message;
    // The signature is checked before the delivery id is taken: taken first, a captured
    // signature sent with another message's body and id burnt that id, and the genuine message
    // was later acknowledged as a duplicate and never answered.
    const signature = message.signatureOnce;
    // The keys this request took beside its delivery id, let go again if its reply fails.
    const taken: string[] = [];
    if (signature) {
      const signedBody = `${channel}:signed-body:${signature}:${sha256Hex(raw)}`;
      // The body's key first: of two identical requests at once, one takes it and the other is
      // the redelivery, never a 401.
      if (!(await this.deliveries.take(signedBody))) {
        return this.#duplicate(channel, "the same signed request again", client, ack);
      }
      const signatureKey = `${channel}:signature:${signature}`;
      if (!(await this.deliveries.take(signatureKey))) {
        await this.deliveries.forget(signedBody);
        return this.#refuse(
          channel,
          "signature already used for another body (replay)",
          client,
        );
      }
      taken.push(signedBody, signatureKey);
    }
    if (!(await this.#firstDelivery(channel, message.deliveryId))) {
      return this.#duplicate(
        channel,
        "an event already handled, delivered again",
        client,
        ack,
      );
    }
    const work = this.#process(adapter, message, taken);
    this.#pending.add(work);
    work.finally(() => this.#pending.delete(work));
    // Platforms want a quick answer; the reply goes out through their API when it is ready.
    return ack();
  }

  /**
   * A 401 that says nothing of why; the reason and the client's network are audited after the
   * answer, so neither its body nor its timing tells one reason from another.
   */
  #refuse(channel: string, reason: string, client: string): Response {
    this.#audit.record(AUTH_FAILURE_KIND, "warning", channel, reason, client);
    return Response.json(UNAUTHORIZED_BODY, { status: 401 });
  }

  /**
   * A verified request whose event was already handled: acknowledged as the first one was, not
   * answered again, and audited. Not a 401: platforms deliver again whenever an answer was slow
   * or lost (Telegram and WeCom with the very same bytes), and a platform that keeps being
   * refused retries harder and then disables the endpoint, while an attacker's byte-identical
   * replay gains nothing from a 200, since nothing runs. The audit record is what tells the two
   * apart afterwards, so each duplicate is counted there (coalesced like the refusals).
   */
  #duplicate(channel: string, reason: string, client: string, ack: () => Response): Response {
    this.#audit.record(DUPLICATE_DELIVERY_KIND, "info", channel, reason, client);
    return ack();
  }

  async #firstDelivery(channel: string, deliveryId: string | undefined): Promise<boolean> {
    return deliveryId === undefined || await this.deliveries.take(`${channel}:${deliveryId}`);
  }

  /**
   * Lets go of every key the message's request took: its delivery id, and `signed` (the keys of
   * its signed body and of its signature). All of them: a redelivery of the same bytes (WeCom
   * and Slack send exactly those) still holding the body's key would be acknowledged as a
   * duplicate and never answered, and one still holding the signature's would be refused.
   */
  async #forgetDelivery(message: ChannelMessage, signed: readonly string[] = []): Promise<void> {
    for (const key of signed) await this.deliveries.forget(key);
    if (message.deliveryId === undefined) return;
    await this.deliveries.forget(`${message.channel}:${message.deliveryId}`);
  }

  /** The sanitized answer to one message, or the notice that policy blocked it. */
  async #answer(message: ChannelMessage): Promise<string> {
    const decision = await this.guard.inspectInput({
      session: message.session,
      text: message.text,
    });
    if (decision.action === "block") {
      return "This message was not processed: it carries data or instructions that policy blocks.";
    }
    // Taken before the responder runs: the reply gets back only the values this user sent,
    // never one of a tool's result or a page the agent read meanwhile in the same session.
    const scope = await this.guard.ownInputsScope(message.session);
    const reply = await this.responder({
      session: message.session,
      text: decision.text,
      localOnly: decision.localOnly,
    });
    return (await this.guard.sanitizeOutput(message.session, reply, "placeholder", scope)).text;
  }

  async #process(
    adapter: ChannelAdapter,
    message: ChannelMessage,
    signed: readonly string[] = [],
  ): Promise<void> {
    let reply: string;
    try {
      reply = await this.run(message.session, () => this.#answer(message));
    } catch (error) {
      const record = await this.#failed(message, error, signed);
      // The user hears that it failed, not why: the error may quote what policy keeps from them.
      await this.#sendInOrder(adapter, message, replyFailedNotice(record)).catch(() => {});
      return;
    }
    try {
      await this.#sendInOrder(adapter, message, reply.trim() ? reply : NO_ANSWER);
    } catch (error) {
      await this.#failed(message, error, signed);
    }
  }

  /**
   * A reply that failed: its delivery is forgotten (the platform was told 200 and will not send
   * the message again, so a redelivery or the user's retry is answered), and the error, redacted,
   * is audited and passed to `onError`. Returns the audit record's number.
   */
  async #failed(
    message: ChannelMessage,
    error: unknown,
    signed: readonly string[] = [],
  ): Promise<number | undefined> {
    await this.#forgetDelivery(message, signed).catch(() => {});
    return await this.recordFailure(message.session, message.channel, error);
  }

  /**
   * Sends a reply after the session's earlier replies: one being retried is not overtaken by the
   * answer to the user's next message. The wait is outside the lane, so a platform that keeps a
   * reply waiting holds no turn of any other chat.
   */
  async #sendInOrder(adapter: ChannelAdapter, message: ChannelMessage, reply: string) {
    const earlier = this.#sending.get(message.session);
    const sending = (earlier ?? Promise.resolve()).catch(() => {}).then(() =>
      this.#send(adapter, message, reply)
    );
    this.#sending.set(message.session, sending);
    try {
      await sending;
    } finally {
      if (this.#sending.get(message.session) === sending) this.#sending.delete(message.session);
    }
  }

  /**
   * Sends a reply, trying again when the platform's API fails (it may be briefly down). The tries
   * share one progress: a reply in several parts goes on from the part that failed, where
   * starting over sent the user the parts before it again. A platform that rate-limits is given
   * the time it asks for, within {@linkcode ChannelHubOptions.maxRetryWaitMs}; once the next
   * wait would take the reply past {@linkcode ChannelHubOptions.retryBudgetMs}, it fails.
   */
  async #send(adapter: ChannelAdapter, message: ChannelMessage, reply: string): Promise<void> {
    const progress: ReplyProgress = { partsSent: 0 };
    let waited = 0;
    // Failures in a row: a try that got a part through starts the count again, so a long reply
    // that a per-chat limit slows down part by part still arrives (the budget still bounds it).
    for (let failures = 0, sent = 0;;) {
      try {
        return await adapter.send(message, reply, progress);
      } catch (error) {
        failures = progress.partsSent > sent ? 0 : failures;
        sent = progress.partsSent;
        const delay = this.#retryDelay(failures++, error);
        if (delay === undefined || waited + delay > this.retryBudgetMs) throw error;
        waited += delay;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The wait before the retry after try `attempt` (from 0) failed with `error`; none is left when undefined. */
  #retryDelay(attempt: number, error: unknown): number | undefined {
    const delay = this.retryDelaysMs[attempt];
    if (delay === undefined || !(error instanceof PlatformRateLimited)) return delay;
    // A retry before the platform's time is refused again; the time is capped, as it is the
    // platform's word.
    return Math.max(delay, Math.min(error.retryAfterMs, this.maxRetryWaitMs));
  }

  /** Runs `work` in the session's queue: one at a time per session, in arrival order. */
  async run<T>(session: string, work: () => Promise<T>): Promise<T> {
    if (this.#served) return await this.#runServed(session, work);
    // The job holds the message until it is retired; a failed one must not wait in a
    // dead-letter queue no one reads, so the failure travels as its result.
    const job = await this.#lane.submit(session, "prompt", () => outcomeOf(work));
    const outcome = await job.result as Outcome<T>;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Runs `work` as a job of the served lane, after the session's earlier turns. The hub orders a
   * session's turns itself: the served lane's session limit is the operator's (none by default),
   * and a dependency between jobs would cancel a chat's later turns with one that was cancelled.
   */
  #runServed<T>(session: string, work: () => Promise<T>): Promise<T> {
    const earlier = this.#turns.get(session) ?? Promise.resolve();
    // Settles once the turn's work is over or will never start: a turn the lane gave up on
    // (its timeout) may still be running, and the chat's next one waits for it.
    const over = Promise.withResolvers<void>();
    const turn = earlier.then(() => this.#submitTurn(session, work, over.resolve));
    turn.catch(() => {});
    const settled = over.promise;
    this.#turns.set(session, settled);
    settled.then(() => {
      if (this.#turns.get(session) === settled) this.#turns.delete(session);
    });
    return turn;
  }

  async #submitTurn<T>(
    session: string,
    work: () => Promise<T>,
    over: () => void,
  ): Promise<T> {
    const id = crypto.randomUUID();
    let outcome: Outcome<T> | undefined;
    // A failed turn is the job's result, not a dead-lettered job: it is told to the user, and
    // retrying it would answer them twice.
    TURNS.set(id, async () => {
      const done = await outcomeOf(work);
      over();
      outcome = done;
      return done.ok
        ? { answered: true }
        : { answered: false, error: redactedError(this.guard, done.error).message };
    });
    try {
      for (let queued = 0; !outcome; queued++) {
        const job = await this.#lane.submit(
          session,
          "prompt",
          { kind: CHAT_TURN_KIND, payload: { turn: id } },
          { retry: { maxAttempts: 1 } },
        );
        const result = await job.result as ChatTurnResult | undefined;
        if (outcome) break;
        if (!result?.elsewhere || queued >= MAX_REQUEUES || !TURNS.has(id)) {
          throw new Error(`chat turn job ${job.id} ended without running the turn`);
        }
      }
    } finally {
      // Still there: the turn never started (its job cancelled, or the lane closed), nor will.
      if (TURNS.delete(id)) over();
    }
    const done = outcome as Outcome<T>;
    if (!done.ok) throw done.error;
    return done.value;
  }

  /**
   * Records a failed WebChat reply as a channel's is (redacted, audited and passed to `onError`,
   * so the operator's log shows why the page got only a notice); returns the record's number.
   */
  async recordFailure(
    session: string,
    channel: string,
    error: unknown,
  ): Promise<number | undefined> {
    const redacted = redactedError(this.guard, error);
    const record = await this.guard.audit.append({
      kind: "channel_reply_failure",
      severity: "warning",
      session,
      data: { channel, error: redacted.message },
    }).catch(() => undefined);
    this.onError(redacted, { channel, session });
    return record?.seq;
  }

  /**
   * The chats' queue: jobs by state (a failed reply is never left dead-lettered) and peaks; on a
   * served lane, its every job.
   */
  stats(): Promise<LaneStats> {
    return this.#lane.stats();
  }

  /**
   * Waits for replies in flight and the audit records of answered requests (tests, and serve's
   * drain before the agent closes).
   */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
    await this.#audit.settled();
  }

  /**
   * Stops the lane after the replies in flight (a served one is its module's to close), and
   * writes the audit summaries still counting.
   */
  async close(): Promise<void> {
    await this.settle();
    await this.#audit.close();
    if (!this.#served) await this.#lane.close();
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A webhook request's body as read: its bytes, too large, or broken off by its sender. */
type ReadBody =
  | { kind: "read"; bytes: Uint8Array }
  | { kind: "too_large" }
  | { kind: "broken" };

/**
 * The request's body, read up to `limit` bytes: a declared length over it is not read at all,
 * and a stream is read only up to it. What is not read is left as it is, never cancelled: a
 * cancelled body is read to its end and thrown away, and a sender's endless stream kept the
 * server reading. A body whose sender stopped sending it (its connection closed) is `broken`.
 */
async function readBody(request: Request, limit: number): Promise<ReadBody> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) return { kind: "too_large" };
  if (!request.body) return { kind: "read", bytes: new Uint8Array() };
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch {
      return { kind: "broken" };
    }
    if (next.done) break;
    size += next.value.length;
    if (size > limit) return { kind: "too_large" };
    chunks.push(next.value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return { kind: "read", bytes: body };
}

/** `error` as an Error whose message has every finding replaced by its type (`[EMAIL]`). */
function redactedError(guard: Guard, error: unknown): Error {
  const text = error instanceof Error ? error.message : String(error);
  const safe = guard.redactForRecord(text);
  // Nothing to hide: the error itself, so its class (a platform's rate limit) is kept.
  if (safe === text && error instanceof Error) return error;
  const redacted = new Error(safe);
  if (error instanceof Error) redacted.name = error.name;
  return redacted;
}
