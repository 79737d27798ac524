/** GPT-2's reversible map between bytes and printable characters (byte-level BPE vocabularies). */

function buildByteToChar(): string[] {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = bytes.slice();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra++);
    }
  }
  const table: string[] = new Array(256);
  for (let i = 0; i < bytes.length; i++) table[bytes[i]] = String.fromCharCode(chars[i]);
  return table;
}

/** Byte value to its character. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE = new Map<number, number>(
  BYTE_TO_CHAR.map((char, byte) => [char.charCodeAt(0), byte]),
);

/** The raw bytes a byte-level token spells, or undefined if it uses characters outside the map. */
export function byteLevelBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token.charCodeAt(i));
    if (byte === undefined) return undefined;
    out[i] = byte;
  }
  return out;
}
