import { FrameError } from "./error.ts";
import type { CodecOptions, FrameInit } from "./frame.ts";
import { _resolveOptions, type ResolvedOptions } from "./_options.ts";
import {
  _frameWasm,
  ERROR_CAPACITY,
  ERROR_OVERSIZED,
  ERROR_UNKNOWN_TYPE,
  RESULT_STATUS,
} from "./_wasm.ts";

/**
 * Payloads up to this size are staged in WebAssembly memory and framed in batches, where one call
 * per frame would cost more than the second copy; larger ones are copied once, straight into the
 * output, beside a header written by a per-frame call.
 */
const BATCHED_PAYLOAD_LIMIT = 256;
const EMPTY = new Uint8Array(0);

/**
 * Encodes one frame to its wire bytes.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameType } from "@a3s/wasm/frame";
 * const bytes = encodeFrame({ type: FrameType.Data, streamId: 7, payload: new Uint8Array([1, 2]) });
 * console.log(bytes.length); // 12: a 10-byte header and 2 payload bytes
 * ```
 */
export function encodeFrame(frame: FrameInit, options?: CodecOptions): Uint8Array {
  return encodeFrames([frame], options);
}

/**
 * Encodes frames back to back into one buffer, framing small payloads in batches in WebAssembly.
 *
 * @example
 * ```ts
 * import { encodeFrames, FrameType } from "@a3s/wasm/frame";
 * const bytes = encodeFrames([
 *   { type: FrameType.Control, payload: new TextEncoder().encode("open") },
 *   { type: FrameType.Heartbeat },
 * ], { layout: "compact" });
 * console.log(bytes.length); // 14: two 5-byte headers and 4 payload bytes
 * ```
 */
export function encodeFrames(frames: Iterable<FrameInit>, options?: CodecOptions): Uint8Array {
  const resolved = _resolveOptions(options);
  const list = listOf(frames);
  // Sizes are checked before anything is allocated, so no input can make us allocate more than
  // the frames' own bytes plus headers.
  const out = new Uint8Array(sizeOf(list, resolved));
  new _Batcher(out, 0, resolved).encode(list);
  return out;
}

/**
 * The number of bytes {@linkcode encodeFrames} would produce, after checking each payload.
 *
 * @example
 * ```ts
 * import { encodedSize, FrameType } from "@a3s/wasm/frame";
 * console.log(encodedSize([{ type: FrameType.Data, payload: new Uint8Array(6) }])); // 16
 * ```
 */
export function encodedSize(frames: Iterable<FrameInit>, options?: CodecOptions): number {
  return sizeOf(listOf(frames), _resolveOptions(options));
}

/**
 * Encodes frames into `target` from `offset` (a reused write buffer, say) and returns the number
 * of bytes written. Nothing is written unless all the frames fit; after a {@linkcode FrameError}
 * for a bad frame, the bytes from `offset` on are unspecified.
 *
 * @example
 * ```ts
 * import { encodeFramesInto, FrameType } from "@a3s/wasm/frame";
 * const buffer = new Uint8Array(64 * 1024);
 * const written = encodeFramesInto([{ type: FrameType.Heartbeat }], buffer);
 * console.log(written); // 10
 * ```
 */
export function encodeFramesInto(
  frames: Iterable<FrameInit>,
  target: Uint8Array,
  offset = 0,
  options?: CodecOptions,
): number {
  const resolved = _resolveOptions(options);
  const list = listOf(frames);
  const size = sizeOf(list, resolved);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new FrameError(
      "invalid_option",
      `${size} bytes of frames do not fit in a ${target.length}-byte target at offset ${offset}`,
      { field: "target" },
    );
  }
  new _Batcher(target, offset, resolved).encode(list);
  return size;
}

function listOf(frames: Iterable<FrameInit>): FrameInit[] {
  if (Array.isArray(frames)) return frames;
  if (typeof (frames as Partial<Iterable<FrameInit>>)?.[Symbol.iterator] !== "function") {
    throw new FrameError("invalid_frame", "frames must be an array or iterable of frames");
  }
  return [...frames];
}

function sizeOf(list: FrameInit[], options: ResolvedOptions): number {
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    total += options.header + payloadOf(list[i], i, options).length;
  }
  return total;
}

function payloadOf(frame: FrameInit, index: number, options: ResolvedOptions): Uint8Array {
  if (typeof frame !== "object" || frame === null) {
    throw new FrameError("invalid_frame", "a frame must be an object", { field: `${index}` });
  }
  const payload = frame.payload ?? EMPTY;
  if (!(payload instanceof Uint8Array)) {
    throw new FrameError("invalid_frame", "payload must be a Uint8Array", {
      field: `${index}.payload`,
    });
  }
  if (payload.length > options.maxPayload) {
    throw new FrameError(
      "oversized",
      `payload of ${payload.length} bytes exceeds the maximum of ${options.maxPayload}`,
      { field: `${index}.payload` },
    );
  }
  return payload;
}

/** Packs type and flags the way the WebAssembly side reads them, rejecting values that don't fit. */
function typeAndFlags(frame: FrameInit, index: number): number {
  const type = frame.type;
  // `(x & 0xff) === x` holds only for integers 0 to 255, rejecting NaN, fractions and strings.
  if ((type & 0xff) !== type) {
    throw new FrameError("unknown_type", `unknown frame type ${String(type)}`, {
      field: `${index}.type`,
    });
  }
  const flags = frame.flags ?? 0;
  if ((flags & 0xff) !== flags) {
    throw new FrameError("invalid_frame", `flags must be an integer from 0 to 255`, {
      field: `${index}.flags`,
    });
  }
  return type | (flags << 8);
}

function streamIdOf(frame: FrameInit, index: number): number {
  const streamId = frame.streamId ?? 0;
  if (streamId >>> 0 !== streamId) {
    throw new FrameError("invalid_frame", `streamId must be an unsigned 32-bit integer`, {
      field: `${index}.streamId`,
    });
  }
  return streamId;
}

function wasmError(
  code: number,
  frame: FrameInit,
  index: number,
  options: ResolvedOptions,
): Error {
  if (code === ERROR_CAPACITY) return new Error("frame encoder staged past its buffer");
  if (code === ERROR_UNKNOWN_TYPE) {
    return new FrameError("unknown_type", `unknown frame type ${frame.type}`, {
      field: `${index}.type`,
    });
  }
  if (code === ERROR_OVERSIZED) {
    return new FrameError("oversized", `payload exceeds the maximum of ${options.maxPayload}`, {
      field: `${index}.payload`,
    });
  }
  const field = (frame.flags ?? 0) !== 0 ? "flags" : "streamId";
  return new FrameError(
    "invalid_frame",
    `the compact layout carries no ${field}; use the stream layout`,
    { field: `${index}.${field}` },
  );
}

/** Fills `out` frame by frame, staging runs of small frames and flushing each run in one call. */
class _Batcher {
  readonly #out: Uint8Array;
  readonly #options: ResolvedOptions;
  #written: number;
  #staged = 0;
  #stagedBytes = 0;
  #firstStaged = 0;

  constructor(out: Uint8Array, offset: number, options: ResolvedOptions) {
    this.#out = out;
    this.#written = offset;
    this.#options = options;
  }

  encode(list: FrameInit[]): void {
    const wasm = _frameWasm();
    const header = this.#options.header;
    for (let i = 0; i < list.length; i++) {
      const frame = list[i];
      const payload = frame.payload ?? EMPTY;
      const packed = typeAndFlags(frame, i);
      const streamId = streamIdOf(frame, i);
      if (payload.length > BATCHED_PAYLOAD_LIMIT) {
        this.#flush(list);
        this.#encodeDirect(frame, i, packed, streamId, payload);
        continue;
      }
      if (
        this.#staged === wasm.descriptorCapacity ||
        this.#stagedBytes + header + payload.length > wasm.stagingCapacity
      ) {
        this.#flush(list);
      }
      if (this.#staged === 0) this.#firstStaged = i;
      const descriptor = wasm.descriptors + this.#staged * 3;
      wasm.words[descriptor] = packed;
      wasm.words[descriptor + 1] = streamId;
      wasm.words[descriptor + 2] = payload.length;
      if (payload.length > 0) wasm.bytes.set(payload, wasm.staging + this.#stagedBytes + header);
      this.#staged++;
      this.#stagedBytes += header + payload.length;
    }
    this.#flush(list);
  }

  #flush(list: FrameInit[]): void {
    if (this.#staged === 0) return;
    const wasm = _frameWasm();
    const { maxPayload, layoutCode } = this.#options;
    const failed = wasm.exports.encodeBatch(this.#staged, maxPayload, layoutCode);
    if (failed >= 0) {
      const index = this.#firstStaged + failed;
      // A failed batch leaves its error code in the first result slot.
      throw wasmError(wasm.words[wasm.result + RESULT_STATUS], list[index], index, this.#options);
    }
    this.#out.set(
      wasm.bytes.subarray(wasm.staging, wasm.staging + this.#stagedBytes),
      this.#written,
    );
    this.#written += this.#stagedBytes;
    this.#staged = 0;
    this.#stagedBytes = 0;
  }

  #encodeDirect(
    frame: FrameInit,
    index: number,
    packed: number,
    streamId: number,
    payload: Uint8Array,
  ): void {
    const wasm = _frameWasm();
    const { maxPayload, layoutCode, header } = this.#options;
    const error = wasm.exports.encodeHeader(
      packed,
      streamId,
      payload.length,
      maxPayload,
      layoutCode,
    );
    if (error !== 0) throw wasmError(error, frame, index, this.#options);
    this.#out.set(wasm.headerViews[layoutCode], this.#written);
    this.#out.set(payload, this.#written + header);
    this.#written += header + payload.length;
  }
}
