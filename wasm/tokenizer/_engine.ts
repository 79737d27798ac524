/**
 * The wasm engine of one tokenizer: its own instance and linear memory, so freeing a tokenizer
 * releases everything it allocated. Text crosses in bulk: one UTF-8 copy in, one id array out.
 */

/** How a pre-token split is matched inside the engine. */
export const Split = { none: 0, gpt2: 1, cl100k: 2, qwen: 3, o200k: 4 } as const;

interface EngineExports {
  memory: WebAssembly.Memory;
  alloc(size: number): number;
  configure(
    split: number,
    jsFlavor: number,
    rankByBytes: number,
    byteLevel: number,
    ignoreMerges: number,
    unk: number,
  ): void;
  byteIdTable(): number;
  fallbackTable(): number;
  loadVocab(bytes: number, entries: number, count: number, maxId: number): void;
  loadMerges(triples: number, count: number): void;
  reserve(size: number): number;
  outputPointer(): number;
  encode(length: number): number;
  encodePieces(ends: number, count: number): number;
  piecesBuffer(count: number): number;
  vocabularySize(): number;
  tokenLength(id: number): number;
  tokenPointer(id: number): number;
  tokenId(length: number): number;
  decode(count: number): number;
  decodedPointer(): number;
  longPieceSpans(span: number, margin: number): void;
  longPieceRetries(): number;
}

/** Engine settings. */
export interface EngineOptions {
  split: number;
  /** Match `\s` and case-insensitive contractions as JavaScript does (transformers.js). */
  jsFlavor: boolean;
  /** tiktoken: merge by the rank of the concatenated bytes; otherwise by merge rules. */
  rankByBytes: boolean;
  /** Initial symbols are bytes (true) or characters (false). */
  byteLevel: boolean;
  /** Emit a pre-token that is itself in the vocabulary without merging. */
  ignoreMerges: boolean;
  /**
   * Pass lone surrogates through as WTF-8 so that, as in transformers.js, they stay unknown
   * characters (byte fallback to U+FFFD) instead of merging as a U+FFFD would.
   */
  loneSurrogates?: boolean;
  unkId: number;
}

import type { PackedTokens } from "./_base64.ts";

let compiled: Promise<WebAssembly.Module> | undefined;

function compileEngine(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const url = new URL("../build/tokenizer.wasm", import.meta.url);
    const bytes = url.protocol === "file:"
      ? await Deno.readFile(url)
      : new Uint8Array(await (await fetch(url)).arrayBuffer());
    return await WebAssembly.compile(bytes);
  })();
  return compiled;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Writes `text` as WTF-8 (UTF-8 that also encodes lone surrogates) at `offset`; returns bytes. */
function wtf8Into(text: string, out: Uint8Array, offset: number): number {
  let n = offset;
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) out[n++] = cp;
    else if (cp < 0x800) {
      out[n++] = 0xc0 | (cp >> 6);
      out[n++] = 0x80 | (cp & 63);
    } else if (cp < 0x10000) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 63);
      out[n++] = 0x80 | (cp & 63);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 63);
      out[n++] = 0x80 | ((cp >> 6) & 63);
      out[n++] = 0x80 | (cp & 63);
    }
  }
  return n - offset;
}

/** One engine instance. */
export class Engine {
  #wasm: EngineExports | undefined;
  readonly #loneSurrogates: boolean;

  private constructor(wasm: EngineExports, loneSurrogates: boolean) {
    this.#wasm = wasm;
    this.#loneSurrogates = loneSurrogates;
  }

  /** Instantiates a fresh engine. */
  static async create(options: EngineOptions): Promise<Engine> {
    const instance = await WebAssembly.instantiate(await compileEngine(), {
      env: {
        abort: (_m: number, _f: number, line: number, column: number) => {
          throw new Error(`tokenizer engine aborted at ${line}:${column}`);
        },
      },
    });
    const wasm = instance.exports as unknown as EngineExports;
    wasm.configure(
      options.split,
      options.jsFlavor ? 1 : 0,
      options.rankByBytes ? 1 : 0,
      options.byteLevel ? 1 : 0,
      options.ignoreMerges ? 1 : 0,
      options.unkId,
    );
    return new Engine(wasm, options.loneSurrogates === true);
  }

  get #exports(): EngineExports {
    if (!this.#wasm) throw new Error("tokenizer was freed");
    return this.#wasm;
  }

  /** Loads tokens: `tokens[i]` holds the bytes of id `ids[i]`. */
  loadVocab(ids: ArrayLike<number>, tokens: Uint8Array[]): void {
    let total = 0;
    for (const token of tokens) total += token.length;
    const bytes = new Uint8Array(total);
    const lengths = new Uint32Array(tokens.length);
    let at = 0;
    tokens.forEach((token, i) => {
      bytes.set(token, at);
      at += token.length;
      lengths[i] = token.length;
    });
    this.loadPacked({ ids: Uint32Array.from(ids), lengths, bytes });
  }

  /** Loads tokens packed back to back. */
  loadPacked(packed: PackedTokens): void {
    const wasm = this.#exports;
    const count = packed.ids.length;
    let maxId = -1;
    for (let i = 0; i < count; i++) if (packed.ids[i] > maxId) maxId = packed.ids[i];
    const bytes = wasm.alloc(packed.bytes.length || 1);
    const entries = wasm.alloc(count * 8 || 8);
    new Uint8Array(wasm.memory.buffer, bytes, packed.bytes.length).set(packed.bytes);
    const table = new Uint32Array(wasm.memory.buffer, entries, count * 2);
    for (let i = 0; i < count; i++) {
      table[2 * i] = packed.ids[i];
      table[2 * i + 1] = packed.lengths[i];
    }
    wasm.loadVocab(bytes, entries, count, maxId);
  }

  /** Loads merge rules as (left, right, merged) triples in rank order. */
  loadMerges(triples: Uint32Array): void {
    const wasm = this.#exports;
    const at = wasm.alloc(triples.byteLength || 4);
    new Uint32Array(wasm.memory.buffer, at, triples.length).set(triples);
    wasm.loadMerges(at, triples.length / 3);
  }

  /** Sets the 256 initial byte ids and byte-fallback ids (0xffffffff where absent). */
  setByteTables(byteIds: Uint32Array, fallbackIds: Uint32Array): void {
    const wasm = this.#exports;
    new Uint32Array(wasm.memory.buffer, wasm.byteIdTable(), 256).set(byteIds);
    new Uint32Array(wasm.memory.buffer, wasm.fallbackTable(), 256).set(fallbackIds);
  }

  #write(text: string): number {
    const wasm = this.#exports;
    if (this.#loneSurrogates && !text.isWellFormed()) {
      const at = wasm.reserve(text.length * 3 + 4);
      return wtf8Into(text, new Uint8Array(wasm.memory.buffer, at, text.length * 3 + 4), 0);
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const at = wasm.reserve(text.length * 3 + 4);
    const { written } = encoder.encodeInto(
      text,
      new Uint8Array(wasm.memory.buffer, at, text.length * 3 + 4),
    );
    return written;
  }

  /** Encodes one text segment; the returned view is valid until the next engine call. */
  encodeView(text: string): Uint32Array {
    const wasm = this.#exports;
    const count = wasm.encode(this.#write(text));
    return new Uint32Array(wasm.memory.buffer, wasm.outputPointer(), count);
  }

  /**
   * Encodes pieces a host-side pre-tokenizer produced, each as a whole, in one call; the
   * returned view is valid until the next engine call.
   */
  encodePiecesView(pieces: string[]): Uint32Array {
    const wasm = this.#exports;
    let units = 0;
    for (const piece of pieces) units += piece.length;
    const capacity = units * 3 + 4;
    const at = wasm.reserve(capacity);
    const endsAt = wasm.piecesBuffer(pieces.length);
    const input = new Uint8Array(wasm.memory.buffer, at, capacity);
    const ends = new Uint32Array(wasm.memory.buffer, endsAt, pieces.length);
    let offset = 0;
    pieces.forEach((piece, i) => {
      offset += this.#loneSurrogates && !piece.isWellFormed()
        ? wtf8Into(piece, input, offset)
        : encoder.encodeInto(piece, input.subarray(offset)).written;
      ends[i] = offset;
    });
    const count = wasm.encodePieces(endsAt, pieces.length);
    return new Uint32Array(wasm.memory.buffer, wasm.outputPointer(), count);
  }

  /**
   * Sets the span and margin (bytes) in which long pieces are merged; tests make them small so
   * that short texts cross many span walls.
   */
  setLongPieceSpans(span: number, margin: number): void {
    this.#exports.longPieceSpans(span, margin);
  }

  /** How many long pieces had to be merged again in one run because a span wall did not hold. */
  get longPieceRetries(): number {
    return this.#exports.longPieceRetries();
  }

  /** Bytes of linear memory the instance holds (for leak checks). */
  get memoryBytes(): number {
    return this.#exports.memory.buffer.byteLength;
  }

  /** Counts the tokens of one text segment. */
  count(text: string): number {
    return this.#exports.encode(this.#write(text));
  }

  /** The id whose bytes are exactly the UTF-8 of `text`, if any. */
  tokenId(text: string): number | undefined {
    const id = this.#exports.tokenId(this.#write(text));
    return id < 0 ? undefined : id;
  }

  /** Number of ids the engine's table spans. */
  get size(): number {
    return this.#exports.vocabularySize();
  }

  /** The bytes of one id (a copy); empty when the engine holds none. */
  tokenBytes(id: number): Uint8Array {
    const wasm = this.#exports;
    const length = wasm.tokenLength(id);
    if (length <= 0) return new Uint8Array(0);
    return new Uint8Array(wasm.memory.buffer, wasm.tokenPointer(id), length).slice();
  }

  /** Concatenated bytes of `ids` (ids the engine does not hold contribute nothing). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const wasm = this.#exports;
    wasm.reserve(ids.length + 1);
    const out = wasm.outputPointer();
    new Uint32Array(wasm.memory.buffer, out, ids.length).set(ids);
    const length = wasm.decode(ids.length);
    return new Uint8Array(wasm.memory.buffer, wasm.decodedPointer(), length).slice();
  }

  /** Decodes `ids` straight to text (UTF-8, invalid sequences replaced). */
  decodeText(ids: ArrayLike<number>): string {
    return decoder.decode(this.decodeBytes(ids));
  }

  /** Drops the instance; its memory goes with it. */
  free(): void {
    this.#wasm = undefined;
  }
}
