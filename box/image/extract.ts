/**
 * Safe layer extraction: applies one image layer onto a rootfs directory, handling OCI
 * whiteouts. It refuses paths that climb out of the root (`..`, absolute links used as
 * parents), never writes through a symlink, and skips device nodes and fifos, so a hostile
 * layer cannot write or create anything outside the directory it is unpacked into.
 */
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { readTar, type TarEntry } from "./tar.ts";

/** What an extraction left out. */
export interface ExtractReport {
  /** How many archive members were written (whiteouts and skipped ones aside). */
  entries: number;
  /** Device nodes, fifos and unknown kinds, which boxes never get from an image. */
  skipped: string[];
}

function unsafe(message: string): A3sError {
  return new A3sError("unsafe_archive", message, { status: 400 });
}

/** Splits an archive path into components, rejecting any that climb above the root. */
export function safeComponents(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw unsafe(`archive path '${path}' escapes the root`);
  if (path.includes("\0")) throw unsafe(`archive path contains a NUL byte`);
  return parts;
}

async function lstat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch {
    return undefined;
  }
}

/** Makes sure every parent of `parts` is a real directory inside root, creating missing ones. */
async function ensureParents(root: string, parts: string[], safe: Set<string>): Promise<void> {
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = join(current, part);
    if (safe.has(current)) continue;
    const info = await lstat(current);
    if (!info) await Deno.mkdir(current, { mode: 0o755 });
    else if (info.isSymlink) {
      throw unsafe(`archive writes through symlink '${current.slice(root.length)}'`);
    } else if (!info.isDirectory) {
      await Deno.remove(current);
      await Deno.mkdir(current, { mode: 0o755 });
    }
    safe.add(current);
  }
}

/** Drops cached directories at or under `path`, which is about to become something else. */
function forget(safe: Set<string>, path: string): void {
  for (const dir of safe) if (dir === path || dir.startsWith(`${path}/`)) safe.delete(dir);
}

async function clearDirectory(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(join(dir, entry.name), { recursive: true });
  }
}

async function removeExisting(path: string, keepDirectory: boolean): Promise<void> {
  const info = await lstat(path);
  if (!info || (keepDirectory && info.isDirectory)) return;
  await Deno.remove(path, { recursive: true });
}

/** Modes without setuid and setgid: an image's privileged binaries stay unprivileged. */
function safeMode(mode: number): number {
  return mode & 0o1777;
}

async function apply(root: string, entry: TarEntry, safe: Set<string>, report: ExtractReport) {
  const parts = safeComponents(entry.path);
  if (parts.length === 0) return;
  const name = parts[parts.length - 1];
  await ensureParents(root, parts, safe);
  const parent = join(root, ...parts.slice(0, -1));
  if (name === ".wh..wh..opq") {
    for (const dir of [...safe]) if (dir.startsWith(`${parent}/`)) safe.delete(dir);
    await clearDirectory(parent);
    return;
  }
  if (name.startsWith(".wh.")) {
    const hidden = join(parent, name.slice(4));
    forget(safe, hidden);
    await removeExisting(hidden, false);
    return;
  }
  const target = join(root, ...parts);
  if (entry.type !== "dir") forget(safe, target);
  switch (entry.type) {
    case "dir": {
      await removeExisting(target, true);
      await Deno.mkdir(target, { recursive: true });
      await Deno.chmod(target, safeMode(entry.mode) || 0o755);
      safe.add(target);
      break;
    }
    case "file": {
      await removeExisting(target, false);
      await Deno.writeFile(target, entry.data, { mode: 0o600, createNew: true });
      await Deno.chmod(target, safeMode(entry.mode));
      break;
    }
    case "symlink": {
      // The link itself may point anywhere: it resolves inside the box, and extraction never
      // follows it (ensureParents refuses to write through it).
      await removeExisting(target, false);
      await Deno.symlink(entry.linkname, target);
      break;
    }
    case "hardlink": {
      const sourceParts = safeComponents(entry.linkname);
      await ensureParents(root, sourceParts, safe);
      const source = join(root, ...sourceParts);
      const info = await lstat(source);
      if (!info || info.isSymlink || info.isDirectory) {
        throw unsafe(`hardlink '${entry.path}' must name a regular file in the archive`);
      }
      await removeExisting(target, false);
      await Deno.link(source, target);
      break;
    }
    default:
      report.skipped.push(entry.path);
      return;
  }
  if (Deno.uid() === 0 && entry.type !== "symlink" && entry.type !== "hardlink") {
    await Deno.chown(target, entry.uid, entry.gid).catch(() => {});
  }
  report.entries++;
}

/**
 * Applies an uncompressed layer tar onto `root`.
 *
 * @example
 * ```ts
 * import { extractLayer, writeTar } from "@a3s/box";
 * const root = await Deno.makeTempDir();
 * await extractLayer(writeTar([{ path: "etc/motd", type: "file" }]), root);
 * ```
 */
export async function extractLayer(tar: Uint8Array, root: string): Promise<ExtractReport> {
  const report: ExtractReport = { entries: 0, skipped: [] };
  const safe = new Set<string>();
  for (const entry of readTar(tar)) await apply(root, entry, safe, report);
  return report;
}
