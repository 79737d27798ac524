import assert from "node:assert/strict";
import { FrameDecoder } from "./decoder.ts";
import { encodeFrame, encodeFrames } from "./encode.ts";
import type { Frame, FrameInit, FrameLayout, FrameType } from "./frame.ts";
import { chunked, hex, plain, random } from "./_test_support.ts";

const CASES = 400;
const TIME_LIMIT_MS = 15_000;

/** Mostly small payloads, some medium, a few past the decoder's largest window. */
function payloadSize(next: () => number): number {
  const roll = next();
  if (roll < 0.6) return Math.floor(next() * 80);
  if (roll < 0.95) return Math.floor(next() * 20_000);
  return 200_000 + Math.floor(next() * 200_000);
}

function randomFrames(next: () => number, layout: FrameLayout): FrameInit[] {
  const frames: FrameInit[] = [];
  const count = Math.floor(next() * 60);
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(payloadSize(next));
    for (let j = 0; j < payload.length; j += 97) payload[j] = Math.floor(next() * 256);
    frames.push({
      type: (1 + Math.floor(next() * 5)) as FrameType,
      flags: layout === "compact" ? 0 : Math.floor(next() * 256),
      streamId: layout === "compact" ? 0 : Math.floor(next() * 2 ** 32),
      payload,
    });
  }
  return frames;
}

Deno.test("random frames survive encode and decode under random chunking", () => {
  const started = Date.now();
  let cases = 0;
  for (let seed = 1; seed <= CASES && Date.now() - started < TIME_LIMIT_MS; seed++, cases++) {
    const next = random(seed);
    const layout: FrameLayout = next() < 0.5 ? "stream" : "compact";
    const frames = randomFrames(next, layout);
    const wire = encodeFrames(frames, { layout });
    // Byte-sized chunks over megabytes would only test patience, so tiny chunks get small wires.
    const sizes = wire.length > 100_000 ? [700, 70_000, 1 << 20] : [1, 16, 700, 70_000];
    const largest = sizes[Math.floor(next() * sizes.length)];
    const copyPayloads = next() < 0.3;
    const decoder = new FrameDecoder({ layout, copyPayloads });
    const decoded: Frame[] = [];
    for (const chunk of chunked(wire, next, largest)) decoded.push(...decoder.push(chunk));
    decoder.end();
    assert.deepEqual(plain(decoded), plain(frames), `seed ${seed}`);
  }
  console.log(`round-trip: ${cases} random cases`);
  assert.ok(cases >= 50, `only ${cases} cases ran in ${TIME_LIMIT_MS} ms`);
});

Deno.test("encodeFrames equals the concatenation of encodeFrame", () => {
  for (let seed = 1000; seed < 1100; seed++) {
    const next = random(seed);
    const layout: FrameLayout = next() < 0.5 ? "stream" : "compact";
    const frames = randomFrames(next, layout).filter((frame) => frame.payload!.length < 2_000);
    const separately = frames.map((frame) => hex(encodeFrame(frame, { layout }))).join("");
    assert.equal(hex(encodeFrames(frames, { layout })), separately, `seed ${seed}`);
  }
});
