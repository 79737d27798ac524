/**
 * Fuzzes the streaming decoder with random and mutated inputs under random chunking, checking
 * each outcome against the plain reference decoder: the same frames, the same error code at the
 * same offset, never an error other than FrameError, never a payload buffer over the maximum.
 *
 * Runs FRAME_FUZZ_INPUTS inputs (1 000 000 by default) or until FRAME_FUZZ_SECONDS (60 by
 * default) pass, whichever comes first, and prints how many ran. A second test feeds the encoder
 * random, partly invalid frames: valid ones must round-trip, invalid ones throw FrameError.
 */
import { Buffer } from "node:buffer";
import { FrameDecoder } from "./decoder.ts";
import { encodeFrames } from "./encode.ts";
import { FrameError } from "./error.ts";
import {
  DEFAULT_MAX_PAYLOAD,
  type Frame,
  type FrameInit,
  type FrameLayout,
  type FrameType,
  headerSize,
} from "./frame.ts";
import { referenceDecode, type ReferenceOutcome } from "./_reference.ts";
import { hex, random } from "./_test_support.ts";

const INPUTS = Number(Deno.env.get("FRAME_FUZZ_INPUTS") ?? 1_000_000);
const SECONDS = Number(Deno.env.get("FRAME_FUZZ_SECONDS") ?? 60);
const MAXIMUMS = [0, 3, 64, 4096, DEFAULT_MAX_PAYLOAD];
const LAYOUTS: FrameLayout[] = ["stream", "compact"];

function corpus(layout: FrameLayout, next: () => number): Uint8Array[] {
  const wires: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const frames: FrameInit[] = [];
    for (let j = Math.floor(next() * 6); j > 0; j--) {
      const payload = new Uint8Array(Math.floor(next() * (next() < 0.9 ? 24 : 300)));
      for (let k = 0; k < payload.length; k++) payload[k] = Math.floor(next() * 256);
      frames.push({
        type: (1 + Math.floor(next() * 5)) as FrameType,
        flags: layout === "compact" ? 0 : Math.floor(next() * 256),
        streamId: layout === "compact" ? 0 : Math.floor(next() * 8),
        payload,
      });
    }
    wires.push(encodeFrames(frames, { layout }));
  }
  return wires;
}

function randomBytes(next: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

/** One to three mutations: bit flips, byte overwrites, truncation, insertion, splicing. */
function mutate(wire: Uint8Array, other: Uint8Array, next: () => number): Uint8Array {
  let bytes: Uint8Array = wire.slice();
  for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
    const at = Math.floor(next() * (bytes.length + 1));
    switch (Math.floor(next() * 6)) {
      case 0:
        if (at < bytes.length) bytes[at] ^= 1 << Math.floor(next() * 8);
        break;
      case 1:
        if (at < bytes.length) bytes[at] = [0, 1, 5, 6, 0x7f, 0xff][Math.floor(next() * 6)];
        break;
      case 2:
        bytes = bytes.subarray(0, at);
        break;
      case 3:
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          randomBytes(next, 1 + Math.floor(next() * 4)),
          bytes.subarray(at),
        ]);
        break;
      case 4:
        bytes = Buffer.concat([bytes.subarray(0, at), other.subarray(at % (other.length + 1))]);
        break;
      default:
        if (at < bytes.length) bytes = bytes.subarray(at);
    }
  }
  return bytes;
}

function decodeStreaming(
  input: Uint8Array,
  maxPayload: number,
  layout: FrameLayout,
  next: () => number,
): { frames: Frame[]; error?: FrameError } {
  const decoder = new FrameDecoder({ maxPayload, layout, copyPayloads: next() < 0.5 });
  const frames: Frame[] = [];
  const bound = maxPayload + headerSize(layout);
  try {
    for (let at = 0; at < input.length;) {
      const size = 1 + Math.floor(next() * (next() < 0.5 ? 8 : input.length));
      frames.push(...decoder.push(input.subarray(at, at + size)));
      if (decoder.buffered > bound) throw new Error(`buffered ${decoder.buffered} > ${bound}`);
      at += size;
    }
    decoder.end();
  } catch (error) {
    if (!(error instanceof FrameError)) throw error;
    return { frames: [...frames, ...error.framesBefore], error };
  }
  return { frames };
}

function disagreement(
  input: Uint8Array,
  actual: { frames: Frame[]; error?: FrameError },
  expected: ReferenceOutcome,
): string | undefined {
  if (actual.frames.length !== expected.frames.length) {
    return `${actual.frames.length} frames, expected ${expected.frames.length}`;
  }
  for (let i = 0; i < expected.frames.length; i++) {
    const got = actual.frames[i];
    const want = expected.frames[i];
    if (
      got.type !== want.type || got.flags !== want.flags || got.streamId !== want.streamId ||
      got.payload.length !== want.length
    ) return `frame ${i} header differs`;
    for (let j = 0; j < want.length; j++) {
      if (got.payload[j] !== input[want.start + j]) return `frame ${i} payload byte ${j} differs`;
    }
  }
  if (actual.error?.code !== expected.error?.code) {
    return `error ${actual.error?.code}, expected ${expected.error?.code}`;
  }
  if (actual.error && actual.error.offset !== expected.error!.offset) {
    return `error offset ${actual.error.offset}, expected ${expected.error!.offset}`;
  }
  return undefined;
}

Deno.test("fuzz: random and mutated inputs agree with the reference decoder", () => {
  const next = random(0xf8a3e);
  const corpora = new Map(LAYOUTS.map((layout) => [layout, corpus(layout, next)]));
  const deadline = Date.now() + SECONDS * 1000;
  const codes = new Map<string, number>();
  let ran = 0;
  for (; ran < INPUTS; ran++) {
    if ((ran & 1023) === 0 && Date.now() > deadline) break;
    const layout = LAYOUTS[ran & 1];
    const maxPayload = MAXIMUMS[Math.floor(next() * MAXIMUMS.length)];
    const wires = corpora.get(layout)!;
    const pick = () => wires[Math.floor(next() * wires.length)];
    const input = next() < 0.25
      ? randomBytes(next, Math.floor(next() * 48))
      : mutate(pick(), pick(), next);
    const actual = decodeStreaming(input, maxPayload, layout, next);
    const problem = disagreement(input, actual, referenceDecode(input, maxPayload, layout));
    if (problem) {
      throw new Error(
        `input ${ran} (${layout}, max ${maxPayload}) ${hex(input)}: ${problem}`,
      );
    }
    const code = actual.error?.code ?? "ok";
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  console.log(`fuzz: ${ran} inputs, outcomes ${JSON.stringify(Object.fromEntries(codes))}`);
  if (ran < INPUTS) console.log(`fuzz: stopped at the ${SECONDS} s limit before ${INPUTS}`);
});

const ENCODE_INPUTS = Number(Deno.env.get("FRAME_FUZZ_ENCODE_INPUTS") ?? 100_000);
const ODD_NUMBERS = [-1, 0.5, 256, 2 ** 32, Number.NaN, Infinity, 0, 1, 5, 6, 255, 2 ** 32 - 1];

function oddOrValid(next: () => number, valid: number): number {
  return next() < 0.9 ? valid : ODD_NUMBERS[Math.floor(next() * ODD_NUMBERS.length)];
}

Deno.test("fuzz: encoding random, partly invalid frames either round-trips or throws FrameError", () => {
  const next = random(0xe1c0de);
  const deadline = Date.now() + SECONDS * 1000;
  let ran = 0;
  let rejected = 0;
  for (; ran < ENCODE_INPUTS && Date.now() <= deadline; ran++) {
    const layout = LAYOUTS[ran & 1];
    const maxPayload = MAXIMUMS[Math.floor(next() * MAXIMUMS.length)];
    const frames: FrameInit[] = [];
    for (let i = Math.floor(next() * 5); i > 0; i--) {
      const compact = layout === "compact" && next() < 0.95;
      frames.push({
        type: oddOrValid(next, 1 + Math.floor(next() * 5)) as FrameType,
        flags: compact ? 0 : oddOrValid(next, Math.floor(next() * 256)),
        streamId: compact ? 0 : oddOrValid(next, Math.floor(next() * 2 ** 32)),
        payload: randomBytes(next, Math.floor(next() * 80)),
      });
    }
    const valid = frames.every((frame) =>
      frame.type >= 1 && frame.type <= 5 && Number.isInteger(frame.type) &&
      Number.isInteger(frame.flags) && frame.flags! >= 0 && frame.flags! <= 255 &&
      Number.isInteger(frame.streamId) && frame.streamId! >= 0 && frame.streamId! < 2 ** 32 &&
      frame.payload!.length <= maxPayload &&
      (layout === "stream" || (frame.flags === 0 && frame.streamId === 0))
    );
    let wire: Uint8Array;
    try {
      wire = encodeFrames(frames, { layout, maxPayload });
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      if (valid) throw new Error(`input ${ran}: valid frames rejected: ${error.message}`);
      rejected++;
      continue;
    }
    if (!valid) throw new Error(`input ${ran}: invalid frames accepted`);
    const expected = referenceDecode(wire, maxPayload, layout);
    if (expected.error || expected.frames.length !== frames.length) {
      throw new Error(`input ${ran}: encoded bytes ${hex(wire)} do not decode to the frames`);
    }
    expected.frames.forEach((frame, i) => {
      const sent = frames[i];
      if (
        frame.type !== sent.type || frame.flags !== sent.flags ||
        frame.streamId !== sent.streamId || frame.length !== sent.payload!.length
      ) throw new Error(`input ${ran}: frame ${i} differs after encoding`);
    });
  }
  console.log(`fuzz encode: ${ran} inputs, ${rejected} rejected with FrameError`);
});
