/**
 * `GET /lane/v1/events`: this process's scheduler events as server-sent events, optionally of
 * one session and some types, with a keep-alive comment when nothing happens.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Lane } from "./lane.ts";
import type { LaneEvent } from "./types.ts";

/** A comment line is sent after this long without events, so proxies keep the stream open. */
const KEEP_ALIVE_MS = 15_000;

/** Streams `lane`'s events matching the request's `session` and `type` query until either end. */
export function streamLaneEvents(c: Context, lane: Lane, shutdown?: AbortSignal): Response {
  const session = c.req.query("session");
  const types = c.req.query("type")?.split(",").filter(Boolean);
  return streamSSE(c, async (stream) => {
    const pending: LaneEvent[] = [];
    let wake: (() => void) | undefined;
    let open = true;
    const stop = lane.subscribe((event) => {
      if (session !== undefined && event.session !== session) return;
      if (types && !types.includes(event.type)) return;
      pending.push(event);
      wake?.();
    });
    const end = () => {
      open = false;
      wake?.();
    };
    stream.onAbort(end);
    if (shutdown?.aborted) end();
    shutdown?.addEventListener("abort", end, { once: true });
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
        for (const event of pending.splice(0)) {
          await stream.writeSSE({
            event: event.type,
            id: event.jobId,
            data: JSON.stringify(event),
          });
        }
      }
    } finally {
      stop();
      shutdown?.removeEventListener("abort", end);
    }
  });
}
