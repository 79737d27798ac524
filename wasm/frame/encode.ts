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
 * Encodes frames back to back into one buffer. Headers are validated and written in WebAssembly,
 * up to 16384 frames a call; each payload is copied once, straight to its place.
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
  // Payload sizes are checked before anything is allocated, so no input can make us allocate
  // more than the frames' own bytes plus headers.
  if (isOneRun(list)) {
    const out = new Uint8Array(describe(list, 0, list.length, resolved));
    place(list, 0, list.length, out, 0, resolved);
    return out;
  }
  const out = new Uint8Array(sizeOf(list, resolved));
  writeRuns(list, out, 0, resolved);
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
  const oneRun = isOneRun(list);
  const size = oneRun ? describe(list, 0, list.length, resolved) : sizeOf(list, resolved);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new FrameError(
      "invalid_option",
      `${size} bytes of frames do not fit in a ${target.length}-byte target at offset ${offset}`,
      { field: "target" },
    );
  }
  if (oneRun) place(list, 0, list.length, target, offset, resolved);
  else writeRuns(list, target, offset, resolved);
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
  if (code === ERROR_CAPACITY) return new Error("frame encoder passed more headers than fit");
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

/** Whether one WebAssembly call can take every header, so sizing and describing are one pass. */
function isOneRun(list: FrameInit[]): boolean {
  return list.length <= _frameWasm().descriptorCapacity;
}

/**
 * Checks frames `[first, end)` into the descriptor table and has WebAssembly validate them and
 * write their headers, back to back, into its header table in one call. Returns their size.
 */
function describe(list: FrameInit[], first: number, end: number, options: ResolvedOptions): number {
  const wasm = _frameWasm();
  const words = wasm.words;
  let size = 0;
  for (let i = first, descriptor = wasm.descriptors; i < end; i++, descriptor += 3) {
    const frame = list[i];
    const payload = payloadOf(frame, i, options);
    words[descriptor] = typeAndFlags(frame, i);
    words[descriptor + 1] = streamIdOf(frame, i);
    words[descriptor + 2] = payload.length;
    size += options.header + payload.length;
  }
  const failed = wasm.exports.encodeHeaders(end - first, options.maxPayload, options.layoutCode);
  if (failed >= 0) {
    const index = first + failed;
    // A failed call leaves its error code in the first result slot.
    throw wasmError(words[wasm.result + RESULT_STATUS], list[index], index, options);
  }
  return size;
}

/**
 * Places the described frames `[first, end)` at `offset`: each header from the header table and
 * each payload with one copy. Returns the offset after them.
 */
function place(
  list: FrameInit[],
  first: number,
  end: number,
  out: Uint8Array,
  offset: number,
  options: ResolvedOptions,
): number {
  const wasm = _frameWasm();
  const source = wasm.view;
  const target = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const header = options.header;
  let written = offset;
  for (let i = first, from = wasm.headerTable; i < end; i++, from += header) {
    // Header bytes move as whole words: fewer operations than a byte loop or a subarray.
    target.setUint32(written, source.getUint32(from));
    if (header === 10) {
      target.setUint32(written + 4, source.getUint32(from + 4));
      target.setUint16(written + 8, source.getUint16(from + 8));
    } else {
      target.setUint8(written + 4, source.getUint8(from + 4));
    }
    const payload = list[i].payload ?? EMPTY;
    if (payload.length > 0) out.set(payload, written + header);
    written += header + payload.length;
  }
  return written;
}

/** Writes more frames than one call takes, one descriptor table's worth at a time. */
function writeRuns(list: FrameInit[], out: Uint8Array, offset: number, options: ResolvedOptions) {
  const capacity = _frameWasm().descriptorCapacity;
  let written = offset;
  for (let first = 0; first < list.length; first += capacity) {
    const end = Math.min(list.length, first + capacity);
    describe(list, first, end, options);
    written = place(list, first, end, out, written, options);
  }
}
