/**
 * Kubernetes' channel protocol over WebSocket (`channel.k8s.io`), as the kubelet, kubectl and
 * client-go speak it to a CRI streaming server. Each message is one frame: its first byte names
 * the channel, the rest is data. Exec and attach use stdin 0, stdout 1, stderr 2, error 3 (from
 * v4 on, a `metav1.Status` JSON carrying the exit code) and resize 4 (`{"Width","Height"}`);
 * v5 adds a close frame `[255, channel]` so the client can half-close stdin. The base64
 * variants send text frames: the channel as an ASCII digit, then the data in base64.
 * Port forwarding uses two channels per port, data `2i` and error `2i + 1`, each opened by the
 * server with the port as a little-endian uint16.
 */

/** The channel numbers of exec and attach. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

/** v5's close frame marker: `[255, channel]` closes that channel's stream. */
export const CLOSE_CHANNEL = 255;

/** A negotiated subprotocol. */
export interface NegotiatedProtocol {
  /** The protocol name as sent back in `Sec-WebSocket-Protocol`. */
  name: string;
  /** The protocol version: 1 for plain `channel.k8s.io`, else the `vN.` prefix. */
  version: number;
  /** Whether frames are base64 text instead of binary. */
  base64: boolean;
}

/** Exec and attach, newest first: what the server prefers when a client offers several. */
export const REMOTECOMMAND_PROTOCOLS: readonly string[] = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
  "base64.channel.k8s.io",
];

/** Exec and attach over SPDY, newest first (v5 exists for WebSocket only). */
export const SPDY_REMOTECOMMAND_PROTOCOLS: readonly string[] = [
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
];

/** Port forwarding over SPDY. */
export const SPDY_PORTFORWARD_PROTOCOL = "portforward.k8s.io";

/** Port forwarding's protocols (the kubelet's: v4 binary or base64). */
export const PORTFORWARD_PROTOCOLS: readonly string[] = [
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "channel.k8s.io",
];

function describe(name: string): NegotiatedProtocol {
  const m = /^(?:v(\d+)\.)?(base64\.)?channel\.k8s\.io$/.exec(name)!;
  return { name, version: m[1] ? Number(m[1]) : 1, base64: m[2] !== undefined };
}

/**
 * Picks the server's most preferred protocol among those in the client's
 * `Sec-WebSocket-Protocol` header; `undefined` when none is shared.
 */
export function negotiateProtocol(
  offered: string | null,
  supported: readonly string[],
): NegotiatedProtocol | undefined {
  const wanted = new Set((offered ?? "").split(",").map((p) => p.trim()).filter(Boolean));
  const name = supported.find((p) => wanted.has(p));
  return name ? describe(name) : undefined;
}

/** One frame on the wire: binary for the plain protocols, text for the base64 ones. */
export function encodeFrame(
  protocol: NegotiatedProtocol,
  channel: number,
  data: Uint8Array,
): Uint8Array | string {
  if (protocol.base64) {
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) {
      binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    }
    return String.fromCharCode(48 + channel) + btoa(binary);
  }
  const frame = new Uint8Array(data.length + 1);
  frame[0] = channel;
  frame.set(data, 1);
  return frame;
}

/** A frame from the client. `close` is set for v5's close frame, naming the closed channel. */
export interface DecodedFrame {
  /** The channel the data is for (or that v5's close frame closes). */
  channel: number;
  /** The payload; empty for a close frame. */
  data: Uint8Array;
  /** True for a v5 close frame. */
  close: boolean;
}

/** Reads a client frame; `undefined` for an empty one (which carries nothing). */
export function decodeFrame(
  protocol: NegotiatedProtocol,
  message: ArrayBuffer | string,
): DecodedFrame | undefined {
  if (typeof message === "string") {
    if (message.length === 0) return undefined;
    const binary = atob(message.slice(1));
    const data = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return { channel: message.charCodeAt(0) - 48, data, close: false };
  }
  const bytes = new Uint8Array(message);
  if (bytes.length === 0) return undefined;
  if (protocol.version >= 5 && bytes[0] === CLOSE_CHANNEL && bytes.length === 2) {
    return { channel: bytes[1], data: new Uint8Array(), close: true };
  }
  return { channel: bytes[0], data: bytes.subarray(1), close: false };
}

/**
 * What the error channel carries when a command ends: from v4 on a `metav1.Status` (success, or
 * failure with reason `NonZeroExitCode` and the code as an `ExitCode` cause, which is how
 * kubectl learns the exit code); before v4 nothing on success and the message text otherwise.
 */
export function exitStatusFrame(
  protocol: { version: number },
  exitCode: number,
): Uint8Array | undefined {
  if (protocol.version < 4) {
    return exitCode === 0
      ? undefined
      : new TextEncoder().encode(`command terminated with non-zero exit code: ${exitCode}`);
  }
  const status = exitCode === 0 ? { metadata: {}, status: "Success" } : {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  };
  return new TextEncoder().encode(JSON.stringify(status));
}

/** An error that is not an exit code (the command could not start, say), on the error channel. */
export function failureFrame(protocol: { version: number }, message: string): Uint8Array {
  const text = protocol.version < 4
    ? message
    : JSON.stringify({ metadata: {}, status: "Failure", message, reason: "InternalError" });
  return new TextEncoder().encode(text);
}

/** A resize frame's payload (`{"Width":80,"Height":24}`); `undefined` when it is not one. */
export function parseResize(data: Uint8Array): { rows: number; cols: number } | undefined {
  try {
    const size = JSON.parse(new TextDecoder().decode(data)) as {
      Width?: unknown;
      Height?: unknown;
    };
    const cols = Number(size.Width);
    const rows = Number(size.Height);
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols <= 0 || rows <= 0) {
      return undefined;
    }
    return { rows: Math.min(rows, 0xffff), cols: Math.min(cols, 0xffff) };
  } catch {
    return undefined;
  }
}

/** The little-endian port number each port-forward channel opens with. */
export function portPrefix(port: number): Uint8Array {
  return new Uint8Array([port & 0xff, (port >> 8) & 0xff]);
}
