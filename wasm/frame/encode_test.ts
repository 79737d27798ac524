import assert from "node:assert/strict";
import { encodedSize, encodeFrame, encodeFrames, encodeFramesInto } from "./encode.ts";
import { FrameError } from "./error.ts";
import { type FrameInit, FrameType } from "./frame.ts";
import { FrameDecoder } from "./decoder.ts";
import { fromHex, goldenCases, hex, plain } from "./_test_support.ts";

function assertFrameError(fn: () => unknown, code: string, field?: string): FrameError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FrameError, `expected FrameError, got ${caught}`);
  assert.equal(caught.code, code);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

Deno.test("encodeFrames writes the documented wire bytes for both layouts", async () => {
  for (const golden of await goldenCases()) {
    const frames: FrameInit[] = golden.frames.map((frame) => ({
      ...frame,
      payload: fromHex(frame.payload),
    }));
    assert.equal(hex(encodeFrames(frames, { layout: golden.layout })), hex(fromHex(golden.wire)));
  }
});

Deno.test("encodeFrame defaults flags and stream id to zero and the payload to empty", () => {
  assert.equal(hex(encodeFrame({ type: FrameType.Heartbeat })), "03000000000000000000");
  assert.equal(hex(encodeFrame({ type: FrameType.Close }, { layout: "compact" })), "0500000000");
});

Deno.test("encodeFrames handles more frames than one call takes, and large payloads", () => {
  const frames: FrameInit[] = [];
  // 20 000 empty frames overflow the descriptor table, so headers are written in two calls.
  for (let i = 0; i < 20_000; i++) frames.push({ type: FrameType.Heartbeat, streamId: i });
  for (let i = 0; i < 150; i++) {
    frames.push({ type: FrameType.Data, flags: i, payload: new Uint8Array(10_240).fill(i) });
  }
  frames.push({ type: FrameType.Data, payload: new Uint8Array(3 << 20).fill(9) });
  frames.push({ type: FrameType.Control, payload: new Uint8Array([1]) });
  const wire = encodeFrames(frames);
  const decoder = new FrameDecoder();
  const decoded = decoder.push(wire);
  decoder.end();
  assert.deepEqual(plain(decoded), plain(frames));
});

Deno.test("encodeFrames accepts any iterable", () => {
  function* frames(): Generator<FrameInit> {
    yield { type: FrameType.Data, payload: new Uint8Array([1]) };
    yield { type: FrameType.Close };
  }
  assert.equal(hex(encodeFrames(frames(), { layout: "compact" })), "0100000001010500000000");
});

Deno.test("encoding rejects bad frames with a typed error naming the field", () => {
  const ok = { type: FrameType.Data };
  for (const type of [0, 6, 255, 256, -1, 1.5, Number.NaN]) {
    assertFrameError(
      () => encodeFrames([ok, { type: type as FrameType }]),
      "unknown_type",
      "1.type",
    );
  }
  for (const flags of [256, -1, 0.5]) {
    assertFrameError(() => encodeFrame({ ...ok, flags }), "invalid_frame", "0.flags");
  }
  for (const streamId of [-1, 2 ** 32, 2.5]) {
    assertFrameError(() => encodeFrame({ ...ok, streamId }), "invalid_frame", "0.streamId");
  }
  assertFrameError(
    () => encodeFrame({ ...ok, payload: "text" as unknown as Uint8Array }),
    "invalid_frame",
    "0.payload",
  );
  assertFrameError(
    () => encodeFrame({ ...ok, streamId: 3 }, { layout: "compact" }),
    "invalid_frame",
    "0.streamId",
  );
  assertFrameError(
    () => encodeFrames([ok, ok, { ...ok, flags: 1 }], { layout: "compact" }),
    "invalid_frame",
    "2.flags",
  );
});

Deno.test("encoding refuses payloads over the maximum, batched or direct", () => {
  const error = assertFrameError(
    () => encodeFrame({ type: FrameType.Data, payload: new Uint8Array(101) }, { maxPayload: 100 }),
    "oversized",
    "0.payload",
  );
  assert.equal(error.status, 413);
  assertFrameError(
    () =>
      encodeFrames([{ type: FrameType.Data }, {
        type: FrameType.Data,
        payload: new Uint8Array(40_000),
      }], { maxPayload: 39_999 }),
    "oversized",
    "1.payload",
  );
  const exact = encodeFrame({ type: FrameType.Data, payload: new Uint8Array(100) }, {
    maxPayload: 100,
  });
  assert.equal(exact.length, 110);
});

Deno.test("codec options are validated", () => {
  for (const maxPayload of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assertFrameError(
      () => encodeFrame({ type: FrameType.Data }, { maxPayload }),
      "invalid_option",
      "maxPayload",
    );
  }
  assertFrameError(
    () => encodeFrame({ type: FrameType.Data }, { layout: "wide" as "stream" }),
    "invalid_option",
    "layout",
  );
});

Deno.test("encodeFramesInto writes at an offset and refuses a target that is too small", () => {
  const frames: FrameInit[] = [
    { type: FrameType.Data, payload: new Uint8Array([1, 2, 3]) },
    { type: FrameType.Data, payload: new Uint8Array(1000).fill(4) },
  ];
  const size = encodedSize(frames);
  assert.equal(size, 1023);
  const target = new Uint8Array(size + 5).fill(0xaa);
  assert.equal(encodeFramesInto(frames, target, 5), size);
  assert.equal(hex(target.subarray(0, 5)), "aaaaaaaaaa");
  assert.equal(hex(target.subarray(5)), hex(encodeFrames(frames)));
  const small = new Uint8Array(size - 1);
  assertFrameError(() => encodeFramesInto(frames, small), "invalid_option", "target");
  assert.ok(small.every((byte) => byte === 0));
  assertFrameError(() => encodeFramesInto(frames, target, 6), "invalid_option", "target");
  assertFrameError(() => encodeFramesInto(frames, target, -1), "invalid_option", "target");
});

Deno.test("encoding rejects what is not a list of frames", () => {
  assertFrameError(() => encodeFrames(null as unknown as FrameInit[]), "invalid_frame");
  assertFrameError(() => encodeFrames(5 as unknown as FrameInit[]), "invalid_frame");
  assertFrameError(
    () => encodeFrames([{ type: FrameType.Data }, null as unknown as FrameInit]),
    "invalid_frame",
    "1",
  );
});
