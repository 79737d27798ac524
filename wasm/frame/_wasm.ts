/**
 * Loads `build/frame.wasm` once and exposes its exports with views over its memory. The module
 * keeps all its state in fixed regions reserved at build time, so memory never grows.
 */

interface FrameExports {
  memory: WebAssembly.Memory;
  inputPointer(): number;
  inputCapacity(): number;
  recordPointer(): number;
  recordCapacity(): number;
  resultPointer(): number;
  descriptorPointer(): number;
  descriptorCapacity(): number;
  headerTablePointer(): number;
  decode(length: number, maxPayload: number, layout: number, pack: number): void;
  encodeHeaders(count: number, maxPayload: number, layout: number): number;
}

/** Status codes the decoder writes to the result block. */
export const STATUS_DONE = 0;
export const STATUS_FULL = 1;
export const STATUS_BODY = 2;
export const STATUS_ERROR = 3;

/** Error codes the codec writes. */
export const ERROR_NONE = 0;
export const ERROR_UNKNOWN_TYPE = 1;
export const ERROR_OVERSIZED = 2;
export const ERROR_FIELD = 3;
export const ERROR_CAPACITY = 4;

/** Result block slots, in u32 units. */
export const RESULT_STATUS = 0;
export const RESULT_COUNT = 1;
export const RESULT_CONSUMED = 2;
export const RESULT_PENDING_TYPE = 3;
export const RESULT_PENDING_STREAM = 4;
export const RESULT_PENDING_LENGTH = 5;
export const RESULT_ERROR = 6;
export const RESULT_ERROR_VALUE = 7;
export const RESULT_PACKED = 8;

async function instantiate(): Promise<FrameExports> {
  const url = new URL("../build/frame.wasm", import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {
    env: {
      // Only reachable through a bug in the codec itself; bad input is reported, never aborts.
      abort: () => {
        throw new Error("frame.wasm aborted");
      },
    },
  });
  return instance.exports as unknown as FrameExports;
}

const exports = await instantiate();

/** The codec's exports and typed views over its fixed memory regions. */
export interface FrameWasm {
  exports: FrameExports;
  bytes: Uint8Array;
  words: Uint32Array;
  view: DataView;
  input: number;
  inputCapacity: number;
  /** Record table, in u32 units. */
  records: number;
  recordCapacity: number;
  /** Result block, in u32 units. */
  result: number;
  /** Descriptor table, in u32 units. */
  descriptors: number;
  descriptorCapacity: number;
  headerTable: number;
}

function views(): FrameWasm {
  const buffer = exports.memory.buffer;
  return {
    exports,
    bytes: new Uint8Array(buffer),
    words: new Uint32Array(buffer),
    view: new DataView(buffer),
    input: exports.inputPointer(),
    inputCapacity: exports.inputCapacity(),
    records: exports.recordPointer() >>> 2,
    recordCapacity: exports.recordCapacity(),
    result: exports.resultPointer() >>> 2,
    descriptors: exports.descriptorPointer() >>> 2,
    descriptorCapacity: exports.descriptorCapacity(),
    headerTable: exports.headerTablePointer(),
  };
}

let current = views();

/**
 * The codec, with views refreshed should the memory ever grow. Growing detaches the old buffer,
 * which empties every view of it; testing that is far cheaper than reading `memory.buffer`.
 */
export function _frameWasm(): FrameWasm {
  if (current.bytes.length === 0) current = views();
  return current;
}
