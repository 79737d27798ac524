import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FrameDecoder } from "./decoder.ts";
import { encodeFrame, encodeFrames } from "./encode.ts";
import { FrameError } from "./error.ts";
import { type Frame, type FrameInit, FrameType } from "./frame.ts";
import { fromHex, goldenCases, plain } from "./_test_support.ts";
import { _frameWasm } from "./_wasm.ts";

function caught(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FrameError, `expected FrameError, got ${error}`);
    return error;
  }
  assert.fail("expected a FrameError");
}

function decodeAll(chunks: Uint8Array[], decoder = new FrameDecoder()): Frame[] {
  const frames = chunks.flatMap((chunk) => decoder.push(chunk));
  decoder.end();
  return frames;
}

const data = (payload: number[], streamId = 0): FrameInit => ({
  type: FrameType.Data,
  streamId,
  payload: new Uint8Array(payload),
});

Deno.test("decoder reads the documented wire bytes for both layouts", async () => {
  for (const golden of await goldenCases()) {
    const frames = decodeAll([fromHex(golden.wire)], new FrameDecoder({ layout: golden.layout }));
    assert.deepEqual(plain(frames), golden.frames);
  }
});

Deno.test("decoder accepts headers split at every byte", () => {
  const frames = [data([1, 2, 3], 9), { type: FrameType.Heartbeat }, data([4], 0xffff_ffff)];
  const wire = encodeFrames(frames);
  const oneByteAtATime = [...wire].map((byte) => new Uint8Array([byte]));
  assert.deepEqual(plain(decodeAll(oneByteAtATime)), plain(frames));
  for (let cut = 1; cut < wire.length; cut++) {
    const split = [wire.subarray(0, cut), wire.subarray(cut)];
    assert.deepEqual(plain(decodeAll(split)), plain(frames), `cut at ${cut}`);
  }
});

Deno.test("decoder returns many frames from one chunk, past the record table's size", () => {
  const frames: FrameInit[] = [];
  for (let i = 0; i < 30_000; i++) frames.push(data([i & 0xff], i));
  const decoded = decodeAll([encodeFrames(frames)]);
  assert.equal(decoded.length, 30_000);
  assert.deepEqual(plain(decoded), plain(frames));
});

Deno.test("decoder assembles one frame from many chunks and reports what it holds", () => {
  const payload = crypto.getRandomValues(new Uint8Array(65_536));
  const wire = encodeFrame({ type: FrameType.Data, payload });
  const decoder = new FrameDecoder();
  let frames: Frame[] = [];
  for (let at = 0; at < wire.length; at += 1000) {
    frames = frames.concat(decoder.push(wire.subarray(at, at + 1000)));
    if (at + 1000 < wire.length) assert.equal(decoder.buffered, at + 1000 - 10);
  }
  decoder.end();
  assert.equal(decoder.buffered, 0);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0].payload, payload);
});

Deno.test("payloads are views of the chunk unless copyPayloads is set", () => {
  const wire = encodeFrame(data([1, 2, 3]));
  const [view] = new FrameDecoder().push(wire);
  assert.equal(view.payload.buffer, wire.buffer);
  const [copy] = new FrameDecoder({ copyPayloads: true }).push(wire);
  wire.fill(0);
  assert.deepEqual([...copy.payload], [1, 2, 3]);
  assert.deepEqual([...view.payload], [0, 0, 0]);
});

Deno.test("copyPayloads copies out of a Node Buffer too, whose slice would be a view", () => {
  // A payload this large is taken straight from the chunk rather than from the packed window.
  const payload = new Uint8Array(300_000).fill(7);
  const wire = Buffer.from(encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, payload }));
  const [frame] = new FrameDecoder({ copyPayloads: true }).push(wire);
  wire.fill(0);
  assert.equal(frame.payload.length, payload.length);
  assert.ok(frame.payload.every((byte) => byte === 7));
});

Deno.test("an unknown type is a typed error at its offset, after the frames before it", () => {
  const good = encodeFrames([data([1]), data([2, 2])]);
  const wire = new Uint8Array([...good, 0x09, ...new Uint8Array(9)]);
  const decoder = new FrameDecoder();
  const error = caught(() => decoder.push(wire));
  assert.equal(error.code, "unknown_type");
  assert.equal(error.offset, good.length);
  assert.equal(error.status, 400);
  assert.match(error.message, /0x09/);
  assert.deepEqual(plain(error.framesBefore), plain([data([1]), data([2, 2])]));
  // Framing is lost, so the decoder stays failed.
  assert.equal(caught(() => decoder.push(encodeFrame(data([3])))), error);
  assert.equal(caught(() => decoder.end()), error);
});

Deno.test("an unknown type in a header split across chunks reports the stream offset", () => {
  const good = encodeFrame(data([7, 7, 7]));
  const bad = new Uint8Array([0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const decoder = new FrameDecoder();
  assert.equal(decoder.push(new Uint8Array([...good, ...bad.subarray(0, 4)])).length, 1);
  const error = caught(() => decoder.push(bad.subarray(4)));
  assert.equal(error.code, "unknown_type");
  assert.equal(error.offset, good.length);
});

Deno.test("an oversized length fails on the header, before any payload is buffered", () => {
  const decoder = new FrameDecoder({ maxPayload: 100 });
  assert.equal(decoder.push(encodeFrame(data(new Array(100).fill(1)))).length, 1);
  const header = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 101]);
  const error = caught(() => decoder.push(header));
  assert.equal(error.code, "oversized");
  assert.equal(error.status, 413);
  assert.equal(error.offset, 110);
  assert.equal(decoder.buffered, 0);

  const huge = new FrameDecoder();
  const lie = caught(() => huge.push(new Uint8Array([2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])));
  assert.equal(lie.code, "oversized");
  assert.match(lie.message, /4294967295/);
});

Deno.test("the payload buffer never exceeds the configured maximum", () => {
  const decoder = new FrameDecoder({ maxPayload: 4096 });
  decoder.push(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 5, 5]));
  assert.equal(decoder.buffered, 2);
  for (let i = 0; i < 4094; i++) decoder.push(new Uint8Array([i & 0xff]));
  decoder.end();
  assert.equal(decoder.buffered, 0);
});

Deno.test("a stream ending inside a frame is truncated; a clean end is not", () => {
  const wire = encodeFrames([data([1, 2, 3]), data([4, 5, 6])]);
  for (let cut = 1; cut < wire.length; cut++) {
    if (cut === 13) continue; // a frame boundary
    const decoder = new FrameDecoder();
    decoder.push(wire.subarray(0, cut));
    const error = caught(() => decoder.end());
    assert.equal(error.code, "truncated", `cut at ${cut}`);
    assert.equal(error.offset, cut < 13 ? 0 : 13, `cut at ${cut}`);
  }
  const clean = new FrameDecoder();
  clean.push(wire.subarray(0, 13));
  clean.end();
  assert.equal(caught(() => clean.push(wire)).code, "ended");
});

Deno.test("the compact layout reads upstream a3s-transport frames", () => {
  const decoder = new FrameDecoder({ layout: "compact" });
  const wire = new Uint8Array([1, 0, 0, 0, 3, 97, 98, 99, 3, 0, 0, 0, 0, 6, 0, 0, 0, 0]);
  const frames = decoder.push(wire.subarray(0, 13));
  assert.deepEqual(plain(frames), [
    { type: 1, flags: 0, streamId: 0, payload: "616263" },
    { type: 3, flags: 0, streamId: 0, payload: "" },
  ]);
  assert.equal(caught(() => decoder.push(wire.subarray(13))).code, "unknown_type");
});

Deno.test("a zero maximum admits only empty frames", () => {
  const decoder = new FrameDecoder({ maxPayload: 0 });
  assert.equal(decoder.push(encodeFrame({ type: FrameType.Close })).length, 1);
  assert.equal(caught(() => decoder.push(encodeFrame(data([1])))).code, "oversized");
});

Deno.test("decoder options are validated", () => {
  assert.equal(caught(() => new FrameDecoder({ maxPayload: -5 })).code, "invalid_option");
  assert.equal(
    caught(() => new FrameDecoder({ layout: "x" as "compact" })).field,
    "layout",
  );
});

Deno.test("thousands of encode and decode calls leave WebAssembly memory where it was", () => {
  const memory = _frameWasm().exports.memory;
  const before = memory.buffer.byteLength;
  const frames: FrameInit[] = [data([1, 2, 3]), {
    type: FrameType.Data,
    payload: new Uint8Array(50_000),
  }];
  for (let i = 0; i < 5_000; i++) {
    const wire = encodeFrames(frames);
    const decoder = new FrameDecoder();
    decoder.push(wire.subarray(0, 7));
    decoder.push(wire.subarray(7));
    decoder.end();
  }
  assert.equal(memory.buffer.byteLength, before);
});

Deno.test("copied payloads survive the reuse of a read buffer", () => {
  const frames: FrameInit[] = [];
  for (let i = 0; i < 50; i++) frames.push(data([i, i + 1, i + 2], i));
  frames.push({ type: FrameType.Data, payload: new Uint8Array(5000).fill(8) });
  const wire = encodeFrames(frames);
  const decoder = new FrameDecoder({ copyPayloads: true });
  const buffer = new Uint8Array(333);
  const decoded: Frame[] = [];
  for (let at = 0; at < wire.length; at += buffer.length) {
    const piece = wire.subarray(at, at + buffer.length);
    buffer.set(piece);
    decoded.push(...decoder.push(buffer.subarray(0, piece.length)));
    buffer.fill(0xee);
  }
  decoder.end();
  assert.deepEqual(plain(decoded), plain(frames));
});

Deno.test("a chunk that is not bytes is a typed error", () => {
  const decoder = new FrameDecoder();
  for (const chunk of [new ArrayBuffer(4), "abc", null, [1, 2]]) {
    assert.equal(caught(() => decoder.push(chunk as unknown as Uint8Array)).code, "invalid_chunk");
  }
});
