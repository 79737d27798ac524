/**
 * One server-sent-event stream over the bus, shared by `GET /event/v1/stream` and every module
 * route that follows its own subjects (lane's `/lane/v1/events`): each event's `id:` is its seq,
 * so a client that reconnects with `Last-Event-ID` resumes where it stopped.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { assertSeq, type EventBus } from "./bus.ts";
import type { EventMessage } from "./message.ts";
import { compilePattern } from "./subject.ts";

/** A comment line is sent after this long without events, so proxies keep the stream open. */
const KEEP_ALIVE_MS = 15_000;

/** How one event is written; `undefined` skips it. */
export interface SseFrame {
  /** The SSE `event:` name; omitted means the default `message`. */
  event?: string;
  /** The SSE `data:` line. */
  data: string;
}

/** Options of {@linkcode streamSubjects}. */
export interface StreamSubjectsOptions {
  /** Subject patterns followed (NATS wildcards); at least one. */
  patterns: readonly string[];
  /** Replay events after this seq first; the request's `Last-Event-ID` when omitted. */
  after?: string;
  /** Ends the stream when aborted (serve's shutdown). */
  shutdown?: AbortSignal;
  /** Turns an event into a frame, or skips it; the default writes the CloudEvent as JSON. */
  render?: (message: EventMessage) => SseFrame | undefined;
}

/** Options of {@linkcode streamQueue}. */
export interface StreamQueueOptions<T> {
  /** Starts the source, which calls `push` per item; returns what stops it. */
  start(push: (item: T) => void): Promise<() => unknown> | (() => unknown);
  /** Turns an item into a frame, or skips it. */
  render(item: T): (SseFrame & { id?: string }) | undefined;
  /** Ends the stream when aborted (serve's shutdown). */
  shutdown?: AbortSignal;
}

/**
 * Streams the items a source pushes as server-sent events, after an `event: ready` frame, with
 * a keep-alive comment when nothing happens, until the client leaves or `shutdown` aborts.
 *
 * @example
 * ```ts ignore
 * app.get("/ticks", (c) =>
 *   streamQueue<number>(c, {
 *     start(push) {
 *       const timer = setInterval(() => push(Date.now()), 1000);
 *       return () => clearInterval(timer);
 *     },
 *     render: (at) => ({ event: "tick", data: String(at) }),
 *   }));
 * ```
 */
export function streamQueue<T>(c: Context, options: StreamQueueOptions<T>): Response {
  const { shutdown } = options;
  return streamSSE(c, async (stream) => {
    const pending: T[] = [];
    let wake: (() => void) | undefined;
    let open = true;
    const end = () => {
      open = false;
      wake?.();
    };
    stream.onAbort(end);
    if (shutdown?.aborted) end();
    shutdown?.addEventListener("abort", end, { once: true });
    const stop = await options.start((item) => {
      pending.push(item);
      wake?.();
    });
    try {
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (open) {
        if (!pending.length) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, KEEP_ALIVE_MS);
          });
          clearTimeout(timer);
          wake = undefined;
        }
        if (!open) break;
        if (!pending.length) {
          await stream.write(": keep-alive\n\n");
          continue;
        }
        for (const item of pending.splice(0)) {
          const frame = options.render(item);
          if (frame) await stream.writeSSE(frame);
        }
      }
    } finally {
      shutdown?.removeEventListener("abort", end);
      await stop();
    }
  });
}

/**
 * Streams the bus's events on `options.patterns` as server-sent events, after an
 * `event: ready` frame, until the client leaves or `shutdown` aborts.
 *
 * @example
 * ```ts ignore
 * app.get("/things/events", (c) => streamSubjects(c, bus, { patterns: ["things.>"] }));
 * ```
 */
export function streamSubjects(
  c: Context,
  bus: EventBus,
  options: StreamSubjectsOptions,
): Response {
  const { patterns } = options;
  const after = options.after ?? c.req.header("last-event-id");
  // Checked before the stream starts, so that a bad one is a 400 and not an empty stream.
  if (after !== undefined) assertSeq(after);
  const render = options.render ?? ((m) => ({ data: JSON.stringify(m.event) }));
  // One pattern subscribes directly; several share one subscription to everything, so a
  // single seq orders the stream and resumes it.
  const pattern = patterns.length === 1 ? patterns[0] : ">";
  const matchers = patterns.map(compilePattern);
  return streamQueue<EventMessage>(c, {
    shutdown: options.shutdown,
    async start(push) {
      const subscription = await bus.subscribe(pattern, (message) => {
        if (matchers.some((m) => m(message.subject))) push(message);
      }, { after });
      return () => subscription.close();
    },
    render(message) {
      const frame = render(message);
      return frame && { id: message.seq, ...frame };
    },
  });
}
