/** Byte-array helpers shared across box (frames, archives, firmware tables). */

/**
 * The parts one after another in a new array of their own. Unlike `Buffer.concat`, the result
 * never shares a pooled buffer: callers view it through `DataView(out.buffer)` at offset 0.
 */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concatByteList(parts);
}

/** {@linkcode concatBytes} for a list too long to spread into arguments (an archive's parts). */
export function concatByteList(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
