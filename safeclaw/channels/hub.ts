/**
 * The channel hub: a webhook request is verified by its platform's adapter (401 and an audit
 * record when it fails), the message goes through safeclaw (classify, injection, ratchet),
 * then through lane, one queue per session, to the responder, and the reply comes back through
 * safeclaw's output sanitizer to the platform.
 */
import { isLoopbackUrl } from "@a3s/common";
import { createLane, type Lane, type LaneStats } from "@a3s/lane";
import type { Guard } from "../guard.ts";
import { type Deliveries, RecentDeliveries } from "./deliveries.ts";
import type { ChannelAdapter, ChannelMessage, ReplyProgress } from "./types.ts";
import { DISCORD_DEFERRED } from "./discord.ts";
import { PlatformRateLimited } from "./rate_limit.ts";

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

/** Waits before each retry of a reply the platform's API did not take. */
export const SEND_RETRY_DELAYS_MS: readonly number[] = [500, 2_000, 5_000];

/** The longest one wait that a rate-limiting platform asks for is honoured. */
export const MAX_RETRY_WAIT_MS = 60_000;

/**
 * The most one reply waits in all between its tries: a reply in flight holds up `settle` (serve's
 * drain before the agent closes), and a buggy or hostile API could keep asking for more time.
 */
export const RETRY_BUDGET_MS = 120_000;

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
}

/** The hub. */
export class ChannelHub {
  #adapters = new Map<string, ChannelAdapter>();
  #lane: Lane;
  #pending = new Set<Promise<unknown>>();
  /** The last reply of each session still being sent, which the session's next one waits for. */
  readonly #sending = new Map<string, Promise<void>>();

  private readonly onError: (error: unknown, message: FailedReply) => void;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxRetryWaitMs: number;
  private readonly retryBudgetMs: number;
  private readonly deliveries: Deliveries;

  constructor(
    private readonly guard: Guard,
    adapters: readonly ChannelAdapter[],
    private readonly responder: Responder,
    options: ChannelHubOptions = {},
  ) {
    for (const a of adapters) this.#adapters.set(a.name, a);
    // Chats run side by side up to 8 (the `prompt` lane's own default, 2, let two slow chats
    // hold every other one); each chat's messages one at a time, in order.
    this.#lane = createLane({
      maxConcurrency: 8,
      sessionConcurrency: 1,
      lanes: { prompt: { maxConcurrency: 8 } },
    });
    this.onError = options.onError ?? (() => {});
    this.retryDelaysMs = options.retryDelaysMs ?? SEND_RETRY_DELAYS_MS;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? MAX_RETRY_WAIT_MS;
    this.retryBudgetMs = options.retryBudgetMs ?? RETRY_BUDGET_MS;
    this.deliveries = options.deliveries ?? new RecentDeliveries();
  }

  /** The configured channel names. */
  get channels(): string[] {
    return [...this.#adapters.keys()];
  }

  /** Handles one webhook request for `channel`. */
  async handle(channel: string, request: Request): Promise<Response> {
    const adapter = this.#adapters.get(channel);
    if (!adapter) {
      return Response.json({ error: `no channel '${channel}' is configured` }, { status: 404 });
    }
    const raw = request.method === "GET"
      ? new Uint8Array()
      : new Uint8Array(await request.arrayBuffer());
    const result = await adapter.receive(request, raw);
    if (result.kind === "unauthorized") {
      await this.guard.recordAuthFailure(channel, result.reason);
      return Response.json({ error: "unauthorized", reason: result.reason }, { status: 401 });
    }
    if (result.kind === "reply") return result.response;
    if (result.kind === "ignored") return Response.json({ ok: true });
    const ack = () => channel === "discord" ? DISCORD_DEFERRED() : Response.json({ ok: true });
    // A platform's second delivery of an event (its retry, or a captured request sent again
    // inside the signature's window) is acknowledged, so that the platform stops, and not
    // answered twice.
    if (!(await this.#firstDelivery(channel, result.message.deliveryId))) return ack();
    const signature = result.message.signatureOnce;
    if (signature && !(await this.deliveries.take(`${channel}:signature:${signature}`))) {
      const reason = "signature already used for another event (replay)";
      await this.guard.recordAuthFailure(channel, reason);
      return Response.json({ error: "unauthorized", reason }, { status: 401 });
    }
    const work = this.#process(adapter, result.message);
    this.#pending.add(work);
    work.finally(() => this.#pending.delete(work));
    // Platforms want a quick answer; the reply goes out through their API when it is ready.
    return ack();
  }

  async #firstDelivery(channel: string, deliveryId: string | undefined): Promise<boolean> {
    return deliveryId === undefined || await this.deliveries.take(`${channel}:${deliveryId}`);
  }

  async #forgetDelivery(message: ChannelMessage): Promise<void> {
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

  async #process(adapter: ChannelAdapter, message: ChannelMessage): Promise<void> {
    let reply: string;
    try {
      reply = await this.run(message.session, () => this.#answer(message));
    } catch (error) {
      const record = await this.#failed(message, error);
      // The user hears that it failed, not why: the error may quote what policy keeps from them.
      await this.#sendInOrder(adapter, message, replyFailedNotice(record)).catch(() => {});
      return;
    }
    try {
      await this.#sendInOrder(adapter, message, reply.trim() ? reply : NO_ANSWER);
    } catch (error) {
      await this.#failed(message, error);
    }
  }

  /**
   * A reply that failed: its delivery is forgotten (the platform was told 200 and will not send
   * the message again, so a redelivery or the user's retry is answered), and the error, redacted,
   * is audited and passed to `onError`. Returns the audit record's number.
   */
  async #failed(message: ChannelMessage, error: unknown): Promise<number | undefined> {
    await this.#forgetDelivery(message).catch(() => {});
    const redacted = redactedError(this.guard, error);
    const record = await this.guard.audit.append({
      kind: "channel_reply_failure",
      severity: "warning",
      session: message.session,
      data: { channel: message.channel, error: redacted.message },
    }).catch(() => undefined);
    this.onError(redacted, message);
    return record?.seq;
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
    // The job holds the message until it is retired; a failed one must not wait in a
    // dead-letter queue no one reads, so the failure travels as its result.
    const job = await this.#lane.submit(session, "prompt", () => outcomeOf(work));
    const outcome = await job.result as Outcome<T>;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
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

  /** The chats' queue: jobs by state (a failed reply is never left dead-lettered) and peaks. */
  stats(): Promise<LaneStats> {
    return this.#lane.stats();
  }

  /** Waits for replies in flight (tests, and serve's drain before the agent closes). */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  /** Stops the lane after the replies in flight. */
  async close(): Promise<void> {
    await this.settle();
    await this.#lane.close();
  }
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
