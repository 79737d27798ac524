import type { Frame } from "./frame.ts";
import { type DecoderOptions, FrameDecoder } from "./decoder.ts";
import { FrameError } from "./error.ts";

/**
 * Yields the frames of a byte stream, such as a socket's `readable`. Frames decoded before a bad
 * header are yielded before its {@linkcode FrameError} is thrown; a stream that ends inside a
 * frame throws `truncated`. Stopping early cancels the stream.
 *
 * @example
 * ```ts
 * import { encodeFrames, FrameType, readFrames } from "@a3s/wasm/frame";
 * const wire = encodeFrames([{ type: FrameType.Data, payload: new Uint8Array(100) }]);
 * const stream = ReadableStream.from([wire.subarray(0, 7), wire.subarray(7)]);
 * for await (const frame of readFrames(stream)) console.log(frame.payload.length); // 100
 * ```
 */
export async function* readFrames(
  stream: ReadableStream<Uint8Array>,
  options?: DecoderOptions,
): AsyncGenerator<Frame, void, undefined> {
  const decoder = new FrameDecoder(options);
  for await (const chunk of stream) {
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (error) {
      if (error instanceof FrameError) yield* error.framesBefore;
      throw error;
    }
    yield* frames;
  }
  decoder.end();
}
