/**
 * A small tar codec for image layers and archives: reads ustar, GNU long names and pax headers
 * (gzip detected by magic), writes ustar with pax records for long names. Reading never
 * interprets paths; {@linkcode extractLayer} decides what is safe to write.
 */
import { A3sError } from "@a3s/common";
import { concatBytes } from "../_bytes.ts";

/** Entry kinds box handles; anything else is reported as `other`. */
export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "device" | "fifo" | "other";

/** One archive member. */
export interface TarEntry {
  /** The member's path as the archive stores it, uninterpreted. */
  path: string;
  /** What kind of member it is. */
  type: TarEntryType;
  /** Permission bits (including setuid, setgid and sticky). */
  mode: number;
  /** The owner's numeric user id. */
  uid: number;
  /** The owner's numeric group id. */
  gid: number;
  /** Modification time, in seconds since the epoch. */
  mtime: number;
  /** Symlink or hardlink target. */
  linkname: string;
  /** The file's contents; empty for other kinds. */
  data: Uint8Array;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function field(block: Uint8Array, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function octal(block: Uint8Array, offset: number, length: number): number {
  // GNU base-256 for large values: high bit set on the first byte.
  if (block[offset] & 0x80) {
    let value = block[offset] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + block[offset + i];
    return value;
  }
  const text = field(block, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function badArchive(message: string): A3sError {
  return new A3sError("bad_archive", message, { status: 400 });
}

function parsePax(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isInteger(length) || length <= 0) throw badArchive("bad pax record");
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "device",
  "4": "device",
  "5": "dir",
  "6": "fifo",
};

/** Decompresses gzip input; plain tar passes through. */
export async function maybeGunzip(data: Uint8Array): Promise<Uint8Array> {
  if (data[0] !== 0x1f || data[1] !== 0x8b) return data;
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  try {
    return await new Response(stream).bytes();
  } catch (error) {
    throw badArchive(`corrupt gzip data: ${(error as Error).message}`);
  }
}

/**
 * Reads every entry of an uncompressed tar.
 *
 * @example
 * ```ts
 * import { readTar, writeTar } from "@a3s/box";
 * const tar = writeTar([{ path: "a.txt", type: "file", data: new TextEncoder().encode("hi") }]);
 * for (const entry of readTar(tar)) console.log(entry.path);
 * ```
 */
export function* readTar(data: Uint8Array): Generator<TarEntry> {
  let at = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (at + 512 <= data.length) {
    const block = data.subarray(at, at + 512);
    if (block.every((b) => b === 0)) return;
    const checksum = octal(block, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
    if (sum !== checksum) throw badArchive(`bad tar header checksum at byte ${at}`);
    const size = octal(block, 124, 12);
    const typeflag = String.fromCharCode(block[156]);
    const start = at + 512;
    if (start + size > data.length) throw badArchive("tar entry runs past the end of the archive");
    const body = data.subarray(start, start + size);
    at = start + Math.ceil(size / 512) * 512;
    if (typeflag === "L") {
      longName = field(body, 0, body.length);
      continue;
    }
    if (typeflag === "K") {
      longLink = field(body, 0, body.length);
      continue;
    }
    if (typeflag === "x") {
      pax = { ...pax, ...parsePax(body) };
      continue;
    }
    if (typeflag === "g") continue;
    const prefix = field(block, 345, 155);
    const name = field(block, 0, 100);
    const path = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    yield {
      path,
      type: TYPES[typeflag] ?? "other",
      mode: octal(block, 100, 8) & 0o7777,
      uid: pax.uid ? Number(pax.uid) : octal(block, 108, 8),
      gid: pax.gid ? Number(pax.gid) : octal(block, 116, 8),
      mtime: pax.mtime ? Math.floor(Number(pax.mtime)) : octal(block, 136, 12),
      linkname: pax.linkpath ?? longLink ?? field(block, 157, 100),
      data: body,
    };
    longName = undefined;
    longLink = undefined;
    pax = {};
  }
}

/** An entry to write; mode, owner and time have defaults. */
export interface TarInput {
  /** The member's path inside the archive. */
  path: string;
  /** What kind of member to write. */
  type: "file" | "dir" | "symlink" | "hardlink";
  /** Permission bits; 0o644 for files, 0o755 for directories by default. */
  mode?: number;
  /** The owner's numeric user id; 0 by default. */
  uid?: number;
  /** The owner's numeric group id; 0 by default. */
  gid?: number;
  /** Modification time in seconds since the epoch; 0 by default, so archives are reproducible. */
  mtime?: number;
  /** Symlink or hardlink target. */
  linkname?: string;
  /** A file's contents; empty by default. */
  data?: Uint8Array;
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, "0");
  block.set(encoder.encode(text.slice(-(length - 1))), offset);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (String(length).length + encoder.encode(body).length !== length) length++;
  return `${length}${body}`;
}

function header(name: string, typeflag: string, size: number, entry: TarInput): Uint8Array {
  const block = new Uint8Array(512);
  block.set(encoder.encode(name).subarray(0, 100), 0);
  writeOctal(block, 100, 8, entry.mode ?? (entry.type === "dir" ? 0o755 : 0o644));
  writeOctal(block, 108, 8, entry.uid ?? 0);
  writeOctal(block, 116, 8, entry.gid ?? 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, entry.mtime ?? 0);
  block[156] = typeflag.charCodeAt(0);
  block.set(encoder.encode(entry.linkname ?? "").subarray(0, 100), 157);
  block.set(encoder.encode("ustar\u000000"), 257);
  block.fill(32, 148, 156);
  const sum = block.reduce((n, b) => n + b, 0);
  writeOctal(block, 148, 7, sum);
  block[155] = 32;
  return block;
}

/** Writes a tar archive (uncompressed). */
export function writeTar(entries: readonly TarInput[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const flags = { file: "0", hardlink: "1", symlink: "2", dir: "5" } as const;
  for (const entry of entries) {
    const data = entry.type === "file" ? entry.data ?? new Uint8Array() : new Uint8Array();
    const name = entry.type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
    const long = encoder.encode(name).length > 100 ||
      encoder.encode(entry.linkname ?? "").length > 100;
    if (long) {
      const pax = encoder.encode(
        paxRecord("path", name) + (entry.linkname ? paxRecord("linkpath", entry.linkname) : ""),
      );
      parts.push(header("pax", "x", pax.length, { path: "pax", type: "file" }), pad(pax));
    }
    parts.push(header(name, flags[entry.type], data.length, entry), pad(data));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(...parts);
}

function pad(data: Uint8Array): Uint8Array {
  const size = Math.ceil(data.length / 512) * 512;
  if (size === data.length) return data;
  const out = new Uint8Array(size);
  out.set(data);
  return out;
}

/** Compresses with gzip. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).bytes();
}
