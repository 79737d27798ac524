/**
 * Reading server-sent events as the format defines them: lines end with CRLF, LF or CR; an
 * event's `data:` lines are joined with newlines (an upstream may split one JSON chunk over
 * several); comments and events without data carry nothing.
 */

/**
 * The data of one event's text: its `data:` lines joined with newlines; undefined when it has
 * none (a comment).
 */
export function eventData(event: string): string | undefined {
  const lines = event.split("\n").filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
  return lines.length ? lines.join("\n").trim() : undefined;
}

/** Splits decoded SSE text, arriving in pieces, into the data of each event. */
export class SseReader {
  #buffer = "";
  // A carriage return at the end of a piece may be the first half of a CRLF.
  #carriageReturn = false;

  /** Adds a piece of the stream; returns the data of the events it completed. */
  push(piece: string): string[] {
    let text = (this.#carriageReturn ? "\r" : "") + piece;
    this.#carriageReturn = text.endsWith("\r");
    if (this.#carriageReturn) text = text.slice(0, -1);
    this.#buffer += text.replace(/\r\n?/g, "\n");
    return this.#events(false);
  }

  /** Ends the stream; returns the data of a last event that had no blank line after it. */
  end(): string[] {
    if (this.#carriageReturn) this.#buffer += "\n";
    this.#carriageReturn = false;
    return this.#events(true);
  }

  #events(final: boolean): string[] {
    const out: string[] = [];
    let end;
    while ((end = this.#buffer.indexOf("\n\n")) >= 0 || (final && this.#buffer)) {
      const event = end >= 0 ? this.#buffer.slice(0, end) : this.#buffer;
      this.#buffer = end >= 0 ? this.#buffer.slice(end + 2) : "";
      const data = eventData(event);
      if (data !== undefined) out.push(data);
    }
    return out;
  }
}
