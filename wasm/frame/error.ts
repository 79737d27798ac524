import { A3sError } from "@a3s/common/errors";
import type { Frame } from "./frame.ts";

/** What went wrong, as a stable code. */
export type FrameErrorCode =
  | "unknown_type"
  | "oversized"
  | "truncated"
  | "invalid_frame"
  | "invalid_option"
  | "invalid_chunk"
  | "ended";

/** Options locating a {@linkcode FrameError}. */
export interface FrameErrorOptions {
  /** Byte offset in the decoded stream of the header at fault. */
  offset?: number;
  /** The input field at fault when encoding, such as `3.streamId`. */
  field?: string;
}

/**
 * The one error the frame codec throws. A decoder that threw stays failed: framing is lost, so
 * every later call throws the same error.
 *
 * @example
 * ```ts
 * import { FrameDecoder, FrameError } from "@a3s/wasm/frame";
 * try {
 *   new FrameDecoder().push(new Uint8Array([0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
 * } catch (error) {
 *   if (error instanceof FrameError) console.log(error.code); // unknown_type
 * }
 * ```
 */
export class FrameError extends A3sError {
  /** What went wrong, as a stable code. */
  override readonly code: FrameErrorCode;
  /** Byte offset in the decoded stream of the header at fault, when decoding. */
  readonly offset?: number;
  /** Frames completed earlier in the same `push` call, before the fault. */
  framesBefore: Frame[] = [];

  /** Makes an error; `oversized` maps to HTTP 413, every other code to 400. */
  constructor(code: FrameErrorCode, message: string, options: FrameErrorOptions = {}) {
    super(code, message, { status: code === "oversized" ? 413 : 400, field: options.field });
    this.name = "FrameError";
    this.code = code;
    this.offset = options.offset;
  }
}
