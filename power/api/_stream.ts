/** Streaming bodies: NDJSON for Ollama, server-sent events for OpenAI. */
import { toA3sError } from "@a3s/common";

const encoder = new TextEncoder();

/**
 * A streaming response that writes each produced value with `frame`. The producer gets an
 * abort signal that fires when the client goes away; errors after the first byte are written
 * into the stream with `errorFrame`, since the status line has already gone out.
 */
export function streamResponse(
  contentType: string,
  produce: (write: (value: unknown) => void, signal: AbortSignal) => Promise<void>,
  frame: (value: unknown) => string,
  errorFrame: (error: unknown) => unknown,
  controller: AbortController,
  done?: string,
): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(stream) {
      const write = (value: unknown) => {
        if (!controller.signal.aborted) stream.enqueue(encoder.encode(frame(value)));
      };
      try {
        await produce(write, controller.signal);
        if (done && !controller.signal.aborted) stream.enqueue(encoder.encode(done));
      } catch (error) {
        if (!controller.signal.aborted) write(errorFrame(toA3sError(error)));
      } finally {
        try {
          stream.close();
        } catch {
          // Already closed by a cancelled reader.
        }
      }
    },
    cancel() {
      controller.abort();
    },
  });
  return new Response(body, {
    headers: { "content-type": contentType, "cache-control": "no-cache" },
  });
}

/** NDJSON lines, as Ollama streams. */
export function ndjson(
  produce: (write: (value: unknown) => void, signal: AbortSignal) => Promise<void>,
  controller: AbortController,
): Response {
  return streamResponse(
    "application/x-ndjson",
    produce,
    (v) => JSON.stringify(v) + "\n",
    (e) => ({ error: (e as Error).message }),
    controller,
  );
}

/** Server-sent events ending in `data: [DONE]`, as OpenAI streams. */
export function sse(
  produce: (write: (value: unknown) => void, signal: AbortSignal) => Promise<void>,
  controller: AbortController,
): Response {
  return streamResponse(
    "text/event-stream",
    produce,
    (v) => `data: ${JSON.stringify(v)}\n\n`,
    (e) => {
      const error = toA3sError(e);
      return {
        error: {
          message: error.message,
          type: error.status >= 500 ? "server_error" : "invalid_request_error",
          param: error.field ?? null,
          code: error.code,
        },
      };
    },
    controller,
    "data: [DONE]\n\n",
  );
}

/**
 * An abort controller that fires when the client's request is aborted (it disconnected) or
 * when the stream is cancelled, so generation stops and frees its slot.
 */
export function requestAbort(request: Request): AbortController {
  const controller = new AbortController();
  if (request.signal.aborted) controller.abort();
  else request.signal.addEventListener("abort", () => controller.abort(), { once: true });
  return controller;
}
