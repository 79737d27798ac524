/**
 * What both API families do with a generation: prime it (so errors before the first token
 * still get a real status line), drain it, stream it as NDJSON (Ollama) or server-sent events
 * (OpenAI), and render errors that happen after the status line through the one renderer.
 */
import { type ErrorStyle, renderError, toA3sError } from "@a3s/common";
import type { CompletionChunk, CompletionOutcome } from "../service.ts";
import type { TokenEvent } from "../engine/generate.ts";
import { CLIENT_CLOSED_REQUEST } from "../models/registry.ts";

/** A generation as the service streams it: chunks, then the finished outcome. */
export type CompletionStream = AsyncGenerator<CompletionChunk, CompletionOutcome>;

/** Writes one value into a streamed response. */
export type Write = (value: unknown) => void;

/** Produces a streamed response's values; `signal` fires when the client goes away. */
export type Produce = (write: Write, signal: AbortSignal) => Promise<void>;

const encoder = new TextEncoder();

/**
 * Runs the stream's first step now, so the model loads and bad input fails before the
 * response starts (with a real status), and returns a stream that replays that step.
 */
export async function primeStream(stream: CompletionStream): Promise<CompletionStream> {
  const first = await stream.next();
  return (async function* () {
    if (first.done) return first.value;
    yield first.value;
    return yield* stream;
  })();
}

/** What a drained stream produced: its visible text, its token events and its outcome. */
export interface Drained {
  text: string;
  events: TokenEvent[];
  outcome: CompletionOutcome;
}

/** Reads a stream to its end, handing each chunk to `onChunk` on the way. */
export async function drainStream(
  stream: CompletionStream,
  onChunk?: (chunk: CompletionChunk) => void,
): Promise<Drained> {
  let text = "";
  const events: TokenEvent[] = [];
  let step = await stream.next();
  while (!step.done) {
    text += step.value.text;
    // Negative ids carry held-back text at the end, not a sampled token.
    if (step.value.event.token >= 0) events.push(step.value.event);
    onChunk?.(step.value);
    step = await stream.next();
  }
  return { text, events, outcome: step.value };
}

/**
 * Why a generation ended, in the words of each API: OpenAI's `finish_reason` (`tool_calls`
 * when it called tools) or Ollama's `done_reason`. A cancelled generation has no client left
 * to read it, so it reads as a stop.
 */
export function finishReason(outcome: CompletionOutcome, style: "openai" | "ollama"): string {
  if (style === "openai" && outcome.toolCalls.length) return "tool_calls";
  return outcome.result.finishReason === "length" ? "length" : "stop";
}

/** The body of an error written into a stream, in the route family's error shape. */
export function streamedError(style: ErrorStyle, error: unknown): Record<string, unknown> {
  return renderError(style, toA3sError(error)).body;
}

/**
 * A streaming response that writes each produced value with `frame`. Errors after the first
 * byte are written into the stream in `style`'s error shape, since the status line has
 * already gone out.
 */
function streamResponse(
  contentType: string,
  style: ErrorStyle,
  produce: Produce,
  frame: (value: unknown) => string,
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
        write(streamedError(style, error));
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
export function ndjson(produce: Produce, controller: AbortController): Response {
  return streamResponse(
    "application/x-ndjson",
    "ollama",
    produce,
    (v) => JSON.stringify(v) + "\n",
    controller,
  );
}

/** Server-sent events ending in `data: [DONE]`, as OpenAI streams. */
export function sse(produce: Produce, controller: AbortController): Response {
  return streamResponse(
    "text/event-stream",
    "openai",
    produce,
    (v) => `data: ${JSON.stringify(v)}\n\n`,
    controller,
    "data: [DONE]\n\n",
  );
}

/**
 * An abort controller that fires when the client disconnects (`request.signal` aborts then:
 * Deno reports it for small bodies, serve's connection guard for large ones) or when a streamed
 * body is cancelled, so generation stops and frees its slot. Under Deno's legacy abort (the
 * default where this workspace's `no-legacy-abort` setting does not apply, as when power is
 * imported as a package) the signal also fires once a response has been sent in full; by then
 * the work is done, so that abort stops nothing.
 */
export function requestAbort(request: Request): AbortController {
  const controller = new AbortController();
  if (request.signal.aborted) controller.abort();
  else request.signal.addEventListener("abort", () => controller.abort(), { once: true });
  return controller;
}

/**
 * The answer to a request whose client has gone: nobody reads it, but it ends the handler
 * without spending more work on a body.
 */
export function clientGone(): Response {
  return new Response(null, { status: CLIENT_CLOSED_REQUEST });
}
