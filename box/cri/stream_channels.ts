/**
 * What an exec or attach session needs from its transport, whichever the client chose: the
 * channel protocol over WebSocket (`channel_socket.ts`) or over SPDY (`spdy_channels.ts`).
 * Channels are numbered as in `remotecommand.ts` (stdin 0, stdout 1, stderr 2, error 3,
 * resize 4).
 */

/** Numbered byte channels between the streaming server and one client. */
export interface StreamChannels {
  /** The negotiated protocol version; decides how the exit status is written. */
  readonly version: number;
  /** Resolves once the client is gone or the channels were closed. */
  readonly closed: Promise<void>;
  /** Whether the client is gone or the channels were closed. */
  readonly isClosed: boolean;
  /** What the client sends on `channel` (an empty, ended stream when it has no such channel). */
  inbound(channel: number): ReadableStream<Uint8Array>;
  /** Sends `data` on `channel`; empty data may be dropped, and nothing is sent once closed. */
  send(channel: number, data: Uint8Array): Promise<void>;
  /** Closes every channel and the connection, once what was sent has gone out. */
  close(): Promise<void>;
}

/** Copies a stream onto a channel until it ends or the channels close. */
export async function pumpInto(
  channels: StreamChannels,
  channel: number,
  from: ReadableStream<Uint8Array>,
): Promise<void> {
  const reader = from.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || channels.isClosed) break;
      if (value.length > 0) await channels.send(channel, value);
    }
  } finally {
    if (channels.isClosed) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A stream that has already ended: what a client gets for a channel it never opened. */
export function endedStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
