/**
 * A `newc` cpio writer for the qemu driver's initramfs: the image's rootfs plus the guest agent
 * as `/init`. The kernel unpacks concatenated archives in order, so a box's own small archive
 * (its command and environment) is appended to the cached image archive.
 */
import { join } from "node:path";
import { concatByteList } from "../_bytes.ts";

const encoder = new TextEncoder();

/** One initramfs member. */
export interface CpioEntry {
  path: string;
  /** Full st_mode: type bits and permissions. */
  mode: number;
  data?: Uint8Array;
  /** Device major and minor, for character devices. */
  rdev?: [number, number];
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Encodes entries as one newc archive, with its trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    length += bytes.length;
    const pad = (4 - (length % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      length += pad;
    }
  };
  let ino = 1;
  for (const entry of [...entries, { path: "TRAILER!!!", mode: 0 }]) {
    const data = entry.data ?? new Uint8Array();
    const name = encoder.encode(`${entry.path}\0`);
    const [major, minor] = (entry as CpioEntry).rdev ?? [0, 0];
    const header = "070701" + [
      ino++,
      entry.mode,
      0,
      0,
      entry.mode & S_IFDIR ? 2 : 1,
      0,
      data.length,
      0,
      0,
      major,
      minor,
      name.length,
      0,
    ].map(hex8).join("");
    const head = new Uint8Array(header.length + name.length);
    head.set(encoder.encode(header));
    head.set(name, header.length);
    push(head);
    if (data.length) push(data);
  }
  return concatByteList(parts);
}

/** Walks a directory tree into cpio entries (paths relative, without a leading slash). */
export async function directoryEntries(root: string, prefix = ""): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for await (const entry of Deno.readDir(join(root, prefix))) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = join(root, relative);
    const info = await Deno.lstat(full);
    const permissions = (info.mode ?? 0o755) & 0o7777;
    if (info.isSymlink) {
      entries.push({
        path: relative,
        mode: S_IFLNK | 0o777,
        data: encoder.encode(await Deno.readLink(full)),
      });
    } else if (info.isDirectory) {
      entries.push({ path: relative, mode: S_IFDIR | permissions });
      // Not a spread: a tree of 150,000 files would be as many arguments and overflow the stack.
      for (const entry of await directoryEntries(root, relative)) entries.push(entry);
    } else if (info.isFile) {
      entries.push({
        path: relative,
        mode: S_IFREG | permissions,
        data: await Deno.readFile(full),
      });
    }
  }
  return entries;
}
