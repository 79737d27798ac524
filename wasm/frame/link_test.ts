/**
 * The codec as box uses it: a host and a guest agent talking frames over a Unix socket, several
 * logical streams multiplexed on one connection, heartbeats answered, and a close frame ending it.
 */
import assert from "node:assert/strict";
import { encodeFrames } from "./encode.ts";
import { type Frame, type FrameInit, FrameType } from "./frame.ts";
import { readFrames } from "./read.ts";
import { FrameEncoderStream } from "./stream.ts";
import { random } from "./_test_support.ts";

/** A guest agent: echoes data and control frames per stream, answers heartbeats, stops on close. */
async function guest(conn: Deno.Conn): Promise<number> {
  const replies = new FrameEncoderStream();
  const sending = replies.readable.pipeTo(conn.writable);
  const writer = replies.writable.getWriter();
  let handled = 0;
  for await (const frame of readFrames(conn.readable)) {
    handled++;
    if (frame.type === FrameType.Close) {
      await writer.write({ type: FrameType.Close });
      break;
    }
    const reply = frame.type === FrameType.Heartbeat
      ? { type: FrameType.Heartbeat, streamId: frame.streamId }
      : { type: frame.type, flags: frame.flags, streamId: frame.streamId, payload: frame.payload };
    await writer.write(reply);
  }
  await writer.close();
  await sending;
  return handled;
}

Deno.test("host and guest multiplex streams over a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const agent = listener.accept().then(guest);

  const next = random(42);
  const sent: FrameInit[] = [];
  for (let i = 0; i < 300; i++) {
    const streamId = 1 + Math.floor(next() * 3);
    const roll = next();
    if (roll < 0.1) sent.push({ type: FrameType.Heartbeat, streamId });
    else {
      const payload = new Uint8Array(Math.floor(next() * (roll < 0.9 ? 200 : 300_000)));
      payload.fill(i & 0xff);
      const type = roll < 0.8 ? FrameType.Data : FrameType.Control;
      sent.push({ type, flags: i & 3, streamId, payload });
    }
  }
  const host = await Deno.connect({ transport: "unix", path });
  const writing = (async () => {
    // Many frames per write, as a busy host batches them. The writer writes each buffer whole,
    // where a bare `conn.write` may take only part of it.
    const writer = host.writable.getWriter();
    for (let i = 0; i < sent.length; i += 25) {
      await writer.write(encodeFrames(sent.slice(i, i + 25)));
    }
    await writer.write(encodeFrames([{ type: FrameType.Close }]));
    writer.releaseLock();
  })();

  const received: Frame[] = [];
  for await (const frame of readFrames(host.readable, { copyPayloads: true })) {
    received.push(frame);
    if (frame.type === FrameType.Close) break;
  }
  await writing;
  assert.equal(await agent, sent.length + 1);
  listener.close();
  await Deno.remove(dir, { recursive: true });

  assert.equal(received.pop()?.type, FrameType.Close);
  for (const streamId of [1, 2, 3]) {
    const expected = sent.filter((frame) => frame.streamId === streamId);
    const got = received.filter((frame) => frame.streamId === streamId);
    assert.equal(got.length, expected.length, `stream ${streamId}`);
    got.forEach((frame, i) => {
      assert.equal(frame.type, expected[i].type);
      assert.equal(frame.flags, expected[i].flags ?? 0);
      assert.deepEqual(frame.payload, expected[i].payload ?? new Uint8Array(0));
    });
  }
});
