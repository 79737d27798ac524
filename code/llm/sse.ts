/** Server-sent events from a fetch body: the framing both OpenAI and Anthropic stream in. */
import type { z } from "zod";
import { parseJson, validationErrorFrom } from "@a3s/common";

/** One SSE event. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** Yields the events of an SSE body, joining multi-line `data:` fields. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event: string | undefined;
  let data: string[] = [];
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line === "") {
          if (data.length) yield { event, data: data.join("\n") };
          event = undefined;
          data = [];
        } else if (line.startsWith(":")) {
          continue;
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") data.push(val);
          else if (field === "event") event = val;
        }
      }
    }
    if (data.length) yield { event, data: data.join("\n") };
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

/**
 * An event's `data` read as JSON of the shape `schema` describes, or what is wrong with it: a
 * provider's chunk is read only as far as its declared types, never half-read into text.
 */
export function parseEventData<T>(
  schema: z.ZodType<T>,
  data: string,
): { ok: true; value: T } | { ok: false; problem: string } {
  const parsed = parseJson(schema, data);
  if (parsed.ok) return parsed;
  return {
    ok: false,
    problem: parsed.issue
      ? validationErrorFrom([parsed.issue], "event").message
      : `not JSON: ${data.slice(0, 200)}`,
  };
}
