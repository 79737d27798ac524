/**
 * `@a3s/wasm/frame`: the frame codec box uses between host and guest agent over vsock,
 * virtio-serial or a socket. Headers are scanned and written in WebAssembly, many frames per
 * call; payloads cross the boundary in bulk. See README.md beside this file for the wire layout.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, FrameType } from "@a3s/wasm/frame";
 * const wire = encodeFrame({ type: FrameType.Data, streamId: 2, payload: new Uint8Array([42]) });
 * const decoder = new FrameDecoder();
 * const [frame] = decoder.push(wire);
 * decoder.end();
 * console.log(frame.streamId, frame.payload[0]); // 2 42
 * ```
 * @module
 */
export {
  type CodecOptions,
  DEFAULT_MAX_PAYLOAD,
  type Frame,
  type FrameInit,
  type FrameLayout,
  FrameType,
  headerSize,
  MAX_PAYLOAD_LIMIT,
} from "./frame.ts";
export { FrameError, type FrameErrorCode, type FrameErrorOptions } from "./error.ts";
export { encodedSize, encodeFrame, encodeFrames, encodeFramesInto } from "./encode.ts";
export { type DecoderOptions, FrameDecoder } from "./decoder.ts";
export { readFrames } from "./read.ts";
export { FrameDecoderStream, FrameEncoderStream } from "./stream.ts";
