/**
 * A deliberately plain whole-buffer decoder, written straight from the wire layout in README.md.
 * Tests use it as the oracle the streaming WebAssembly decoder must agree with.
 */
import type { FrameErrorCode } from "./error.ts";
import type { FrameLayout } from "./frame.ts";

export interface ReferenceFrame {
  type: number;
  flags: number;
  streamId: number;
  start: number;
  length: number;
}

export interface ReferenceOutcome {
  frames: ReferenceFrame[];
  error?: { code: FrameErrorCode; offset: number };
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

export function referenceDecode(
  input: Uint8Array,
  maxPayload: number,
  layout: FrameLayout,
): ReferenceOutcome {
  const compact = layout === "compact";
  const header = compact ? 5 : 10;
  const frames: ReferenceFrame[] = [];
  let at = 0;
  while (input.length - at >= header) {
    const type = input[at];
    const flags = compact ? 0 : input[at + 1];
    const streamId = compact ? 0 : u32(input, at + 2);
    const length = u32(input, compact ? at + 1 : at + 6);
    if (type < 1 || type > 5) return { frames, error: { code: "unknown_type", offset: at } };
    if (length > maxPayload) return { frames, error: { code: "oversized", offset: at } };
    if (at + header + length > input.length) {
      return { frames, error: { code: "truncated", offset: at } };
    }
    frames.push({ type, flags, streamId, start: at + header, length });
    at += header + length;
  }
  if (at < input.length) return { frames, error: { code: "truncated", offset: at } };
  return { frames };
}
