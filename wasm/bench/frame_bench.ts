/**
 * Frame codec throughput: our WebAssembly codec beside a plain TypeScript DataView codec written
 * here, on 64 B, 4 KiB and 1 MiB payloads. Both produce the same bytes and the same frames
 * (payloads are views of the input when a frame arrives whole), so only the work differs.
 *
 *   deno bench -A wasm/bench/frame_bench.ts
 */
import { cpuUsage } from "node:process";
import {
  encodeFrames,
  encodeFramesInto,
  type Frame,
  FrameDecoder,
  type FrameInit,
  FrameType,
} from "../frame/mod.ts";

const HEADER = 10;
const MAX_PAYLOAD = 16 * 1024 * 1024;
/** Each iteration moves about this many payload bytes, whatever the frame size. */
const BYTES_PER_ITERATION = 4 * 1024 * 1024;
/** Decoding also runs as a socket would deliver it: 64 KiB reads. */
const READ_SIZE = 64 * 1024;

function dataViewEncode(frames: FrameInit[]): Uint8Array {
  let total = 0;
  for (const frame of frames) total += HEADER + (frame.payload?.length ?? 0);
  const out = new Uint8Array(total);
  dataViewEncodeInto(frames, out);
  return out;
}

function dataViewEncodeInto(frames: FrameInit[], out: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const frame of frames) {
    const payload = frame.payload ?? new Uint8Array(0);
    if (payload.length > MAX_PAYLOAD) throw new RangeError("oversized");
    view.setUint8(at, frame.type);
    view.setUint8(at + 1, frame.flags ?? 0);
    view.setUint32(at + 2, frame.streamId ?? 0);
    view.setUint32(at + 6, payload.length);
    out.set(payload, at + HEADER);
    at += HEADER + payload.length;
  }
  return at;
}

/** A streaming DataView decoder with the same contract as FrameDecoder. */
class DataViewDecoder {
  readonly #copy: boolean;
  #carry = new Uint8Array(0);
  #body: { frame: Frame; filled: number } | undefined;

  constructor(copyPayloads = false) {
    this.#copy = copyPayloads;
  }

  push(input: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let chunk = input;
    if (this.#carry.length > 0) {
      const joined = new Uint8Array(this.#carry.length + chunk.length);
      joined.set(this.#carry);
      joined.set(chunk, this.#carry.length);
      chunk = joined;
      this.#carry = new Uint8Array(0);
    }
    let at = 0;
    if (this.#body) {
      const { frame } = this.#body;
      const take = Math.min(frame.payload.length - this.#body.filled, chunk.length);
      frame.payload.set(chunk.subarray(0, take), this.#body.filled);
      this.#body.filled += take;
      at = take;
      if (this.#body.filled < frame.payload.length) return frames;
      frames.push(frame);
      this.#body = undefined;
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (chunk.length - at >= HEADER) {
      const type = view.getUint8(at);
      const length = view.getUint32(at + 6);
      if (type < 1 || type > 5) throw new RangeError("unknown type");
      if (length > MAX_PAYLOAD) throw new RangeError("oversized");
      const frame: Frame = {
        type: type as FrameType,
        flags: view.getUint8(at + 1),
        streamId: view.getUint32(at + 2),
        payload: this.#copy
          ? chunk.slice(at + HEADER, at + HEADER + length)
          : chunk.subarray(at + HEADER, at + HEADER + length),
      };
      if (at + HEADER + length > chunk.length) {
        frame.payload = new Uint8Array(length);
        frame.payload.set(chunk.subarray(at + HEADER));
        this.#body = { frame, filled: chunk.length - at - HEADER };
        return frames;
      }
      frames.push(frame);
      at += HEADER + length;
    }
    this.#carry = chunk.slice(at);
    return frames;
  }
}

interface Workload {
  label: string;
  frames: FrameInit[];
  wire: Uint8Array;
  reads: Uint8Array[];
  /** A reused write buffer, so encoding can be timed apart from allocating its output. */
  target: Uint8Array;
}

function workload(label: string, payloadSize: number): Workload {
  const count = Math.max(1, Math.floor(BYTES_PER_ITERATION / payloadSize));
  const frames: FrameInit[] = [];
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(payloadSize);
    crypto.getRandomValues(payload.subarray(0, Math.min(payloadSize, 65536)));
    frames.push({ type: FrameType.Data, flags: i & 0xff, streamId: i, payload });
  }
  const wire = encodeFrames(frames);
  const reads: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += READ_SIZE) reads.push(wire.subarray(at, at + READ_SIZE));
  return { label, frames, wire, reads, target: new Uint8Array(wire.length) };
}

const workloads = [workload("64 B", 64), workload("4 KiB", 4096), workload("1 MiB", 1 << 20)];

function decodeWasm(reads: Uint8Array[], copyPayloads = false): number {
  const decoder = new FrameDecoder({ copyPayloads });
  let count = 0;
  for (const read of reads) count += decoder.push(read).length;
  decoder.end();
  return count;
}

function decodeDataView(reads: Uint8Array[], copyPayloads = false): number {
  const decoder = new DataViewDecoder(copyPayloads);
  let count = 0;
  for (const read of reads) count += decoder.push(read).length;
  return count;
}

const cases: { name: string; run: (w: Workload) => unknown; peer: boolean }[] = [
  { name: "encode DataView", run: (w) => dataViewEncode(w.frames), peer: true },
  { name: "encode wasm", run: (w) => encodeFrames(w.frames), peer: false },
  { name: "encode into DataView", run: (w) => dataViewEncodeInto(w.frames, w.target), peer: true },
  { name: "encode into wasm", run: (w) => encodeFramesInto(w.frames, w.target), peer: false },
  { name: "decode DataView", run: (w) => decodeDataView([w.wire]), peer: true },
  { name: "decode wasm", run: (w) => decodeWasm([w.wire]), peer: false },
  { name: "decode 64 KiB reads DataView", run: (w) => decodeDataView(w.reads), peer: true },
  { name: "decode 64 KiB reads wasm", run: (w) => decodeWasm(w.reads), peer: false },
  { name: "decode copied DataView", run: (w) => decodeDataView(w.reads, true), peer: true },
  { name: "decode copied wasm", run: (w) => decodeWasm(w.reads, true), peer: false },
];

for (const w of workloads) {
  for (const c of cases) {
    const group = `${c.name.replace(/ (DataView|wasm)$/, "")} ${w.label}`;
    Deno.bench({ name: `${c.name} ${w.label}`, group, baseline: c.peer, fn: () => void c.run(w) });
  }
}

/** Process CPU time in milliseconds: unlike wall time, it does not grow while others run. */
function cpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/**
 * Wire GB/s for each case: the best over rounds, taken in turn with the peer, of CPU time per
 * iteration, so other processes on the machine and rounds that met a full garbage collection
 * skew neither side.
 */
function throughput(w: Workload, rounds = 16, roundMs = 20): string[] {
  const perIteration: number[][] = cases.map(() => []);
  for (const c of cases) for (let i = 0; i < 3; i++) c.run(w);
  const indexes = cases.map((_, index) => index);
  for (let round = 0; round < rounds; round++) {
    // Whichever case runs after another pays for that one's garbage, so the order flips each round.
    for (const index of round % 2 ? indexes.toReversed() : indexes) {
      const start = cpuMs();
      let iterations = 0;
      let elapsed = 0;
      while (elapsed < roundMs) {
        cases[index].run(w);
        iterations++;
        elapsed = cpuMs() - start;
      }
      perIteration[index].push(elapsed / iterations);
    }
  }
  return perIteration.map((times) =>
    (w.wire.length / (Math.min(...times) / 1000) / 1e9).toFixed(2)
  );
}

const columns = workloads.map((w) => throughput(w));
const table: Record<string, Record<string, string>> = {};
cases.forEach((c, index) => {
  table[c.name] = Object.fromEntries(
    workloads.map((w, column) => [w.label, columns[column][index]]),
  );
});
console.log("frame codec throughput, GB/s of wire bytes per CPU second, best of 16 rounds");
console.log(
  "(peer: the DataView codec in this file; 'copied' decodes 64 KiB reads into owned payloads)",
);
console.table(table);
