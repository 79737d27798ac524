import { FrameError } from "./error.ts";
import type { CodecOptions, FrameInit } from "./frame.ts";
import { _resolveOptions, type ResolvedOptions } from "./_options.ts";
import { _frameWasm, ERROR_OVERSIZED, ERROR_UNKNOWN_TYPE, RESULT_STATUS } from "./_wasm.ts";

/**
 * Payloads up to this size are staged in WebAssembly memory and framed in batches; larger ones
 * are copied once, straight into the output, where a per-frame call costs nothing measurable.
 */
const BATCHED_PAYLOAD_LIMIT = 16 * 1024;
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
  const list = Array.isArray(frames) ? frames as FrameInit[] : [...frames];
  // Sizes are checked before anything is allocated, so no input can make us allocate more than
  // the frames' own bytes plus headers.
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    total += resolved.header + payloadOf(list[i], i, resolved).length;
  }
  const out = new Uint8Array(total);
  new _Batcher(out, resolved).encode(list);
  return out;
}

function payloadOf(frame: FrameInit, index: number, options: ResolvedOptions): Uint8Array {
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
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new FrameError("unknown_type", `unknown frame type ${String(type)}`, {
      field: `${index}.type`,
    });
  }
  const flags = frame.flags ?? 0;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new FrameError("invalid_frame", `flags must be an integer from 0 to 255`, {
      field: `${index}.flags`,
    });
  }
  return type | (flags << 8);
}

function streamIdOf(frame: FrameInit, index: number): number {
  const streamId = frame.streamId ?? 0;
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff_ffff) {
    throw new FrameError("invalid_frame", `streamId must be an unsigned 32-bit integer`, {
      field: `${index}.streamId`,
    });
  }
  return streamId;
}

function wasmError(code: number, frame: FrameInit, index: number, options: ResolvedOptions) {
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
  #written = 0;
  #staged = 0;
  #stagedBytes = 0;
  #firstStaged = 0;

  constructor(out: Uint8Array, options: ResolvedOptions) {
    this.#out = out;
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
    this.#out.set(wasm.bytes.subarray(wasm.header, wasm.header + header), this.#written);
    this.#out.set(payload, this.#written + header);
    this.#written += header + payload.length;
  }
}
