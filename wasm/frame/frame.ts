/**
 * The frame model shared by the encoder and the decoder: frame types, the two header layouts and
 * the codec options.
 */

/**
 * Frame type bytes, as upstream a3s-transport numbers them.
 *
 * @example
 * ```ts
 * import { FrameType } from "@a3s/wasm/frame";
 * console.log(FrameType.Heartbeat); // 3
 * ```
 */
export const FrameType: {
  readonly Data: 1;
  readonly Control: 2;
  readonly Heartbeat: 3;
  readonly Error: 4;
  readonly Close: 5;
} = Object.freeze({ Data: 1, Control: 2, Heartbeat: 3, Error: 4, Close: 5 } as const);

/** One of the frame type bytes in {@linkcode FrameType}. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** A decoded frame. */
export interface Frame {
  /** What the payload is: data, control, heartbeat, error or close. */
  type: FrameType;
  /** Eight application-defined flag bits; always 0 in the compact layout. */
  flags: number;
  /** The logical stream the frame belongs to; always 0 in the compact layout. */
  streamId: number;
  /** The payload bytes (see {@linkcode DecoderOptions.copyPayloads} about ownership). */
  payload: Uint8Array;
}

/** A frame to encode; flags and stream id default to 0 and the payload to empty. */
export interface FrameInit {
  /** The frame type byte. */
  type: FrameType;
  /** Eight flag bits, 0 to 255. */
  flags?: number;
  /** Stream id, an unsigned 32-bit integer. */
  streamId?: number;
  /** The payload, at most the configured maximum. */
  payload?: Uint8Array;
}

/**
 * Header layouts. `stream` (the default) is a 10-byte header: type u8, flags u8, stream id u32,
 * length u32, integers big-endian. `compact` is upstream a3s-transport's 5-byte header: type u8,
 * length u32 big-endian, with no flags and no stream id.
 */
export type FrameLayout = "stream" | "compact";

/** Options shared by the encoder and the decoder; both ends of a link must agree on them. */
export interface CodecOptions {
  /** The largest payload accepted, in bytes; 16 MiB unless set. */
  maxPayload?: number;
  /** The header layout; `stream` unless set. */
  layout?: FrameLayout;
}

/** The default maximum payload: 16 MiB, as upstream. */
export const DEFAULT_MAX_PAYLOAD: number = 16 * 1024 * 1024;

/** The largest configurable maximum payload (the wire length field is an unsigned 32-bit). */
export const MAX_PAYLOAD_LIMIT: number = 0xffff_ffff;

/**
 * Header size in bytes for a layout.
 *
 * @example
 * ```ts
 * import { headerSize } from "@a3s/wasm/frame";
 * console.log(headerSize("stream"), headerSize("compact")); // 10 5
 * ```
 */
export function headerSize(layout: FrameLayout = "stream"): number {
  return layout === "compact" ? 5 : 10;
}
