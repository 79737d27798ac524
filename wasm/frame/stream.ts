import type { CodecOptions, Frame, FrameInit } from "./frame.ts";
import { type DecoderOptions, FrameDecoder } from "./decoder.ts";
import { encodeFrames } from "./encode.ts";

/**
 * A `TransformStream` from bytes to frames, for piping a connection's `readable`. A bad header
 * or a stream ending inside a frame errors the stream with a {@linkcode FrameError}.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoderStream, FrameType } from "@a3s/wasm/frame";
 * const bytes = ReadableStream.from([encodeFrame({ type: FrameType.Heartbeat })]);
 * for await (const frame of bytes.pipeThrough(new FrameDecoderStream())) console.log(frame.type);
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Frame> {
  /** Makes a decoding stream with the decoder's options. */
  constructor(options?: DecoderOptions) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        for (const frame of decoder.push(chunk)) controller.enqueue(frame);
      },
      flush() {
        decoder.end();
      },
    });
  }
}

/**
 * A `TransformStream` from frames to bytes, for piping into a connection's `writable`. Each
 * chunk written may be one frame or an array of frames, which are encoded into one buffer.
 *
 * @example
 * ```ts
 * import { FrameEncoderStream, FrameType } from "@a3s/wasm/frame";
 * const frames = ReadableStream.from([{ type: FrameType.Close }]);
 * for await (const bytes of frames.pipeThrough(new FrameEncoderStream())) console.log(bytes.length);
 * ```
 */
export class FrameEncoderStream extends TransformStream<FrameInit | FrameInit[], Uint8Array> {
  /** Makes an encoding stream with the codec's options. */
  constructor(options?: CodecOptions) {
    super({
      transform(chunk, controller) {
        controller.enqueue(encodeFrames(Array.isArray(chunk) ? chunk : [chunk], options));
      },
    });
  }
}
