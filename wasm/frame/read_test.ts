import assert from "node:assert/strict";
import { encodeFrames } from "./encode.ts";
import { FrameError } from "./error.ts";
import { type Frame, type FrameInit, FrameType } from "./frame.ts";
import { readFrames } from "./read.ts";
import { chunked, plain, random } from "./_test_support.ts";

async function collect(frames: AsyncIterable<Frame>): Promise<{ got: Frame[]; error?: unknown }> {
  const got: Frame[] = [];
  try {
    for await (const frame of frames) got.push(frame);
  } catch (error) {
    return { got, error };
  }
  return { got };
}

function sample(count: number): FrameInit[] {
  const frames: FrameInit[] = [];
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array((i * 977) % 70_000).fill(i & 0xff);
    frames.push({ type: (1 + (i % 5)) as FrameType, flags: i % 3, streamId: i, payload });
  }
  return frames;
}

Deno.test("readFrames decodes frames written to a real TCP socket in uneven writes", async () => {
  const frames = sample(60);
  const wire = encodeFrames(frames);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const writer = (async () => {
    const conn = await listener.accept();
    const next = random(7);
    // The writer writes each piece whole, where a bare `conn.write` may take only part of it.
    const writer = conn.writable.getWriter();
    for (const piece of chunked(wire, next, 9000)) await writer.write(piece);
    await writer.close();
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  // copyPayloads is exercised here on a live stream; views are covered in decoder_test.ts.
  const { got, error } = await collect(readFrames(client.readable, { copyPayloads: true }));
  await writer;
  listener.close();
  assert.equal(error, undefined);
  assert.deepEqual(plain(got), plain(frames));
});

Deno.test("readFrames yields the frames before a bad header, then throws", async () => {
  const good = encodeFrames([{ type: FrameType.Data, payload: new Uint8Array([1]) }]);
  const stream = ReadableStream.from([
    good,
    new Uint8Array([...good, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  const { got, error } = await collect(readFrames(stream));
  assert.equal(got.length, 2);
  assert.ok(error instanceof FrameError);
  assert.equal(error.code, "unknown_type");
  assert.equal(error.offset, good.length * 2);
});

Deno.test("readFrames throws truncated when the stream stops inside a frame", async () => {
  const wire = encodeFrames(sample(3));
  const { got, error } = await collect(readFrames(ReadableStream.from([wire.subarray(0, -1)])));
  assert.equal(got.length, 2);
  assert.ok(error instanceof FrameError);
  assert.equal(error.code, "truncated");
});

Deno.test("stopping early cancels the source stream", async () => {
  let cancelled = false;
  const wire = encodeFrames(sample(4));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(wire);
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const frame of readFrames(stream)) {
    assert.equal(frame.streamId, 0);
    break;
  }
  assert.ok(cancelled);
});
