/**
 * Turns an overlay upper directory (what a box changed) into an OCI layer tar: files, dirs and
 * symlinks as they are, overlay's whiteouts (0:0 character devices) as `.wh.<name>`, and
 * opaque directories (the `trusted.overlay.opaque` xattr) as `.wh..wh..opq`. Paths the runtime
 * itself mounts (`/proc`, `/dev`, `/sys`, the agent's `/.a3s`) never enter a layer.
 */
import { join } from "node:path";
import type { TarInput } from "../image/tar.ts";

/** Top-level names a box's runtime creates as mount points; they are not image content. */
const RUNTIME_PATHS = new Set([".a3s", "proc", "dev", "sys"]);

let getxattr: ((path: string, name: string) => boolean) | null | undefined;

function cString(value: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${value}\0`) as Uint8Array<ArrayBuffer>;
}

/** Whether `path` carries `name` with the value "y" (overlay's opaque marker). */
function hasYesXattr(path: string, name: string): boolean {
  if (getxattr === undefined) {
    try {
      const lib = Deno.dlopen("libc.so.6", {
        lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
      });
      getxattr = (p, n) => {
        const buffer = new Uint8Array(4);
        const length = lib.symbols.lgetxattr(cString(p), cString(n), buffer, 4n);
        return Number(length) === 1 && buffer[0] === 0x79;
      };
    } catch {
      getxattr = null;
    }
  }
  return getxattr ? getxattr(path, name) : false;
}

function isOpaque(path: string): boolean {
  return hasYesXattr(path, "trusted.overlay.opaque") || hasYesXattr(path, "user.overlay.opaque");
}

function mtimeOf(info: Deno.FileInfo): number {
  return Math.floor((info.mtime?.getTime() ?? 0) / 1000);
}

/**
 * Walks `upper` and returns tar entries in a stable (sorted) order.
 *
 * @example
 * ```ts
 * import { upperToLayer } from "@a3s/box";
 * import { writeTar } from "@a3s/box";
 * const tar = writeTar(await upperToLayer("/var/lib/a3s/box/boxes/abc/upper"));
 * ```
 */
export async function upperToLayer(upper: string): Promise<TarInput[]> {
  const entries: TarInput[] = [];
  const walk = async (dir: string, prefix: string) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    names.sort();
    for (const name of names) {
      if (prefix === "" && RUNTIME_PATHS.has(name)) continue;
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const info = await Deno.lstat(path);
      const owner = { uid: info.uid ?? 0, gid: info.gid ?? 0, mtime: mtimeOf(info) };
      if (info.isCharDevice && info.rdev === 0) {
        entries.push({ path: prefix ? `${prefix}/.wh.${name}` : `.wh.${name}`, type: "file" });
      } else if (info.isDirectory) {
        entries.push({ path: rel, type: "dir", mode: (info.mode ?? 0o755) & 0o7777, ...owner });
        if (isOpaque(path)) entries.push({ path: `${rel}/.wh..wh..opq`, type: "file" });
        await walk(path, rel);
      } else if (info.isSymlink) {
        entries.push({ path: rel, type: "symlink", linkname: await Deno.readLink(path), ...owner });
      } else if (info.isFile) {
        entries.push({
          path: rel,
          type: "file",
          mode: (info.mode ?? 0o644) & 0o7777,
          data: await Deno.readFile(path),
          ...owner,
        });
      }
      // Sockets, fifos and devices a RUN step leaves behind are not image content.
    }
  };
  await walk(upper, "");
  return entries;
}
