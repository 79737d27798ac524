/**
 * Reads a JetStream delivery's ack subject, which carries the delivery count, the stream
 * sequence and the time the server stored the message. The client's own `info` splits the
 * subject into an array and builds an object of eleven fields per message; the consumer
 * needs three numbers, so this scans for the dots instead.
 *
 * Two layouts exist:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>` (9 tokens) and
 * `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>[.<rnd>]`.
 */

/** What a consumer needs from an ack subject. */
export interface AckSubjectInfo {
  /** 1 on first delivery. */
  deliveries: number;
  /** The stream sequence, as the decimal string it is in the subject. */
  streamSeq: string;
  /** When the server stored the message, in ms since the epoch. */
  storedAtMs: number;
}

/** Dot positions of one subject; reused, as parsing runs one message at a time. */
const dots = new Int32Array(12);

/** Parses `reply`; throws on a subject that is not a JetStream ack subject. */
export function parseAckSubject(reply: string): AckSubjectInfo {
  let count = 0;
  let at = reply.indexOf(".");
  while (at !== -1 && count < dots.length) {
    dots[count++] = at;
    at = reply.indexOf(".", at + 1);
  }
  const tokens = at === -1 ? count + 1 : count + 2;
  if (!reply.startsWith("$JS.ACK.") || (tokens !== 9 && tokens < 11)) {
    throw new Error(`not a JetStream ack subject: ${reply}`);
  }
  // Index of the dot before the delivery count: after <stream>.<consumer>, or after
  // <domain>.<account>.<stream>.<consumer> in the newer layout.
  const first = tokens === 9 ? 3 : 5;
  return {
    deliveries: Number(reply.slice(dots[first] + 1, dots[first + 1])),
    streamSeq: reply.slice(dots[first + 1] + 1, dots[first + 2]),
    storedAtMs: Number(reply.slice(dots[first + 3] + 1, dots[first + 4])) / 1e6,
  };
}
