import assert from "node:assert/strict";
import { FrameError } from "./error.ts";
import { type Frame, type FrameInit, FrameType } from "./frame.ts";
import { FrameDecoderStream, FrameEncoderStream } from "./stream.ts";
import { plain } from "./_test_support.ts";

async function drain<T>(stream: ReadableStream<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items };
}

Deno.test("frames piped through the encoder and decoder streams come out unchanged", async () => {
  const frames: FrameInit[] = [];
  for (let i = 0; i < 100; i++) {
    frames.push({ type: FrameType.Data, streamId: i, payload: new Uint8Array(i * 40).fill(i) });
  }
  // A TCP socket in between re-chunks the bytes as it likes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sending = (async () => {
    const conn = await listener.accept();
    await ReadableStream.from<FrameInit | FrameInit[]>([frames.slice(0, 10), ...frames.slice(10)])
      .pipeThrough(new FrameEncoderStream())
      .pipeTo(conn.writable);
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const { items, error } = await drain<Frame>(
    client.readable.pipeThrough(new FrameDecoderStream()),
  );
  await sending;
  listener.close();
  assert.equal(error, undefined);
  assert.deepEqual(plain(items), plain(frames));
});

Deno.test("the decoder stream errors with a FrameError on a truncated stream", async () => {
  const bytes = ReadableStream.from([new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2])]);
  const { items, error } = await drain(bytes.pipeThrough(new FrameDecoderStream()));
  assert.equal(items.length, 0);
  assert.ok(error instanceof FrameError);
  assert.equal(error.code, "truncated");
});

Deno.test("the encoder stream errors with a FrameError on a bad frame", async () => {
  const frames = ReadableStream.from<FrameInit>([{ type: 9 as FrameType }]);
  const { error } = await drain(frames.pipeThrough(new FrameEncoderStream()));
  assert.ok(error instanceof FrameError);
  assert.equal(error.code, "unknown_type");
});
