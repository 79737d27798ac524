/** Helpers shared by the frame codec's tests. */
import type { Frame, FrameInit, FrameLayout, FrameType } from "./frame.ts";

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export interface GoldenCase {
  layout: FrameLayout;
  frames: { type: FrameType; flags: number; streamId: number; payload: string }[];
  wire: string;
}

export async function goldenCases(): Promise<GoldenCase[]> {
  const url = new URL("../testdata/frame/golden.json", import.meta.url);
  return JSON.parse(await Deno.readTextFile(url)).cases;
}

/** A payload as a short comparable string: its bytes when small, else length and checksum. */
function digest(payload: Uint8Array): string {
  if (payload.length <= 64) return hex(payload);
  let hash = 0x811c9dc5;
  for (let i = 0; i < payload.length; i++) hash = Math.imul(hash ^ payload[i], 0x01000193);
  return `${payload.length}:${(hash >>> 0).toString(16)}`;
}

/** Frames as plain comparable values. */
export function plain(frames: (Frame | FrameInit)[]): unknown[] {
  return frames.map((frame) => ({
    type: frame.type,
    flags: frame.flags ?? 0,
    streamId: frame.streamId ?? 0,
    payload: digest(frame.payload ?? new Uint8Array(0)),
  }));
}

/** A small seeded generator (mulberry32), so a failing case can be replayed from its seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits bytes at random points into chunks of 1 to `largest` bytes. */
export function chunked(bytes: Uint8Array, next: () => number, largest: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = 1 + Math.floor(next() * largest);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}
