import { FrameError } from "./error.ts";
import type { CodecOptions, Frame, FrameType } from "./frame.ts";
import { _resolveOptions, type ResolvedOptions } from "./_options.ts";
import {
  _frameWasm,
  ERROR_UNKNOWN_TYPE,
  RESULT_CONSUMED,
  RESULT_COUNT,
  RESULT_ERROR,
  RESULT_ERROR_VALUE,
  RESULT_PACKED,
  RESULT_PENDING_LENGTH,
  RESULT_PENDING_STREAM,
  RESULT_PENDING_TYPE,
  RESULT_STATUS,
  STATUS_BODY,
  STATUS_DONE,
  STATUS_ERROR,
} from "./_wasm.ts";

/** Options for a {@linkcode FrameDecoder}. */
export interface DecoderOptions extends CodecOptions {
  /**
   * When false (the default), a payload that arrived whole inside one pushed chunk is a view of
   * that chunk, so nothing is copied; set true if you reuse chunk buffers after `push`. Copied
   * payloads decoded together share one buffer (at most 256 KiB), made in one copy.
   */
  copyPayloads?: boolean;
}

/** A frame whose header is read and whose payload is still arriving. */
interface PartialBody {
  type: FrameType;
  flags: number;
  streamId: number;
  payload: Uint8Array;
  filled: number;
}

// Bytes handed to WebAssembly per call adapt to the traffic: the window grows while it yields
// frames, and drops to one header after a large payload, so large payloads are never copied into
// WebAssembly memory (only their headers are) and the payload is a view of the chunk. A small
// payload seen in that mode brings back a batching window.
const FIRST_WINDOW = 64 * 1024;
const LARGE_PAYLOAD = 1024;
/** Up to this many bytes, a plain loop moves them faster than making a view to `set` from. */
const LOOP_COPY_LIMIT = 64;

/** `chunk.subarray`, minus the species lookup that is most of a small frame's cost. */
function view(chunk: Uint8Array, start: number, length: number): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset + start, length);
}

/**
 * Streaming frame decoder. Push chunks of any size, split anywhere: headers split across chunks,
 * many frames in one chunk, or one frame across many chunks. Headers are validated in WebAssembly
 * before any payload is buffered, so memory held for a payload never exceeds the configured
 * maximum.
 *
 * @example
 * ```ts
 * import { encodeFrames, FrameDecoder, FrameType } from "@a3s/wasm/frame";
 * const wire = encodeFrames([
 *   { type: FrameType.Data, streamId: 1, payload: new Uint8Array([1, 2, 3]) },
 *   { type: FrameType.Close },
 * ]);
 * const decoder = new FrameDecoder();
 * const frames = [...decoder.push(wire.subarray(0, 4)), ...decoder.push(wire.subarray(4))];
 * decoder.end();
 * console.log(frames.map((frame) => frame.type)); // [1, 5]
 * ```
 */
export class FrameDecoder {
  readonly #options: ResolvedOptions;
  readonly #copy: boolean;
  /** Bytes of a header split across chunks (always fewer than a header). */
  readonly #carry: Uint8Array;
  #carried = 0;
  #body: PartialBody | undefined;
  /** Stream offset of the start of the chunk being pushed. */
  #offset = 0;
  #window = FIRST_WINDOW;
  #failure: FrameError | undefined;
  #ended = false;

  /** Makes a decoder; the options are checked here and throw `invalid_option`. */
  constructor(options: DecoderOptions = {}) {
    this.#options = _resolveOptions(options);
    this.#copy = options.copyPayloads ?? false;
    this.#carry = new Uint8Array(this.#options.header);
  }

  /** Bytes received but not yet returned as part of a frame. */
  get buffered(): number {
    return this.#carried + (this.#body?.filled ?? 0);
  }

  /**
   * Decodes a chunk and returns every frame it completes, in order.
   *
   * @throws {FrameError} `unknown_type` or `oversized` for a bad header (frames completed before
   * it are on `framesBefore`), `invalid_chunk` for a chunk that is not a `Uint8Array`, `ended`
   * after {@linkcode FrameDecoder.end}.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failure) throw this.#failure;
    if (this.#ended) throw new FrameError("ended", "push after end");
    if (!(chunk instanceof Uint8Array)) {
      throw new FrameError("invalid_chunk", "a chunk must be a Uint8Array", { field: "chunk" });
    }
    const frames: Frame[] = [];
    try {
      let at = 0;
      while (at < chunk.length) {
        at = this.#body ? this.#fillBody(chunk, at, frames) : this.#scan(chunk, at, frames);
      }
    } catch (error) {
      if (error instanceof FrameError) {
        error.framesBefore = frames;
        this.#failure = error;
      }
      throw error;
    }
    this.#offset += chunk.length;
    return frames;
  }

  /**
   * Marks the end of the stream.
   *
   * @throws {FrameError} `truncated` if a partial frame is buffered.
   */
  end(): void {
    if (this.#failure) throw this.#failure;
    this.#ended = true;
    if (this.#carried > 0) {
      this.#failure = new FrameError(
        "truncated",
        `stream ended inside a frame header (${this.#carried} of ${this.#options.header} bytes)`,
        { offset: this.#offset - this.#carried },
      );
    } else if (this.#body) {
      const { filled, payload } = this.#body;
      this.#failure = new FrameError(
        "truncated",
        `stream ended inside a frame payload (${filled} of ${payload.length} bytes)`,
        { offset: this.#offset - filled - this.#options.header },
      );
    }
    if (this.#failure) throw this.#failure;
  }

  #payload(chunk: Uint8Array, start: number, length: number): Uint8Array {
    // Copied from a plain view: a Node Buffer chunk's own slice would share its memory.
    const payload = view(chunk, start, length);
    return this.#copy ? payload.slice() : payload;
  }

  #fillBody(chunk: Uint8Array, at: number, frames: Frame[]): number {
    const body = this.#body!;
    const take = Math.min(body.payload.length - body.filled, chunk.length - at);
    body.payload.set(view(chunk, at, take), body.filled);
    body.filled += take;
    if (body.filled === body.payload.length) {
      frames.push({
        type: body.type,
        flags: body.flags,
        streamId: body.streamId,
        payload: body.payload,
      });
      this.#body = undefined;
    }
    return at + take;
  }

  /** Hands WebAssembly one window (split header bytes first) and collects what it found. */
  #scan(chunk: Uint8Array, at: number, frames: Frame[]): number {
    const wasm = _frameWasm();
    const carried = this.#carried;
    const size = Math.min(chunk.length - at, this.#window, wasm.inputCapacity - carried);
    const bytes = wasm.bytes;
    const input = wasm.input + carried;
    for (let i = 0; i < carried; i++) bytes[wasm.input + i] = this.#carry[i];
    if (size <= LOOP_COPY_LIMIT) {
      for (let i = 0; i < size; i++) bytes[input + i] = chunk[at + i];
    } else {
      bytes.set(view(chunk, at, size), input);
    }
    const { maxPayload, layoutCode } = this.#options;
    wasm.exports.decode(carried + size, maxPayload, layoutCode, this.#copy ? 1 : 0);

    const words = wasm.words;
    const status = words[wasm.result + RESULT_STATUS];
    const count = words[wasm.result + RESULT_COUNT];
    const consumed = words[wasm.result + RESULT_CONSUMED];
    // Window offsets map to chunk offsets by this base; it is negative while split header bytes
    // from the previous chunk lead the window.
    const base = at - carried;
    // Copies are made once per call: WebAssembly packed the payloads together, and one slice
    // takes them all, each frame getting a view of it.
    const source = this.#copy && count > 0
      ? bytes.slice(wasm.input, wasm.input + words[wasm.result + RESULT_PACKED])
      : chunk;
    const buffer = source.buffer;
    const offset = source.byteOffset + (this.#copy ? 0 : base);
    for (let i = 0, record = wasm.records; i < count; i++, record += 4) {
      const packed = words[record];
      frames.push({
        type: (packed & 0xff) as FrameType,
        flags: packed >>> 8,
        streamId: words[record + 1],
        payload: new Uint8Array(buffer, offset + words[record + 2], words[record + 3]),
      });
    }
    this.#carried = 0;
    if (status === STATUS_ERROR) throw this.#headerError(wasm.result, words, base + consumed);
    if (status === STATUS_DONE) {
      // Whatever is left is a header split across the window's end: keep it for the next call.
      const left = carried + size - consumed;
      this.#carry.set(wasm.bytes.subarray(wasm.input + consumed, wasm.input + consumed + left));
      this.#carried = left;
      if (count > 0) this.#window = Math.min(this.#window * 2, wasm.inputCapacity);
      return at + size;
    }
    if (count > 0) this.#window = Math.min(this.#window * 2, wasm.inputCapacity);
    if (status !== STATUS_BODY) return base + consumed;
    return this.#pendingBody(chunk, base + consumed, words, wasm.result, frames);
  }

  /** A header whose payload runs past the window: take the payload from the chunk itself. */
  #pendingBody(
    chunk: Uint8Array,
    start: number,
    words: Uint32Array,
    result: number,
    frames: Frame[],
  ): number {
    const packed = words[result + RESULT_PENDING_TYPE];
    const type = (packed & 0xff) as FrameType;
    const flags = packed >>> 8;
    const streamId = words[result + RESULT_PENDING_STREAM];
    const length = words[result + RESULT_PENDING_LENGTH];
    this.#window = length >= LARGE_PAYLOAD
      ? this.#options.header
      : Math.max(this.#window, FIRST_WINDOW);
    if (start + length <= chunk.length) {
      frames.push({ type, flags, streamId, payload: this.#payload(chunk, start, length) });
      return start + length;
    }
    // The header was validated, so this allocation is bounded by the configured maximum.
    this.#body = { type, flags, streamId, payload: new Uint8Array(length), filled: 0 };
    return start;
  }

  #headerError(result: number, words: Uint32Array, chunkOffset: number): FrameError {
    const value = words[result + RESULT_ERROR_VALUE];
    const offset = this.#offset + chunkOffset;
    if (words[result + RESULT_ERROR] === ERROR_UNKNOWN_TYPE) {
      return new FrameError(
        "unknown_type",
        `unknown frame type 0x${value.toString(16).padStart(2, "0")} at byte ${offset}`,
        { offset },
      );
    }
    return new FrameError(
      "oversized",
      `frame length ${value} exceeds the maximum of ${this.#options.maxPayload} at byte ${offset}`,
      { offset },
    );
  }
}
