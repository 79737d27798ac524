/**
 * How much disk a folder takes, walked without following symlinks: a link a session made to `/`
 * or to another session's folder counts as the link itself, never as what it points at.
 */
import { join } from "node:path";

/** What {@linkcode diskUsage} found. */
export interface DiskUsage {
  /** Bytes the folder's entries take on disk (hard links counted once). */
  bytes: number;
  /** Files, folders and links seen, the folder itself included. */
  entries: number;
  /** False when the walk stopped early at a limit: the folder takes at least this much. */
  complete: boolean;
}

/** Where a walk stops: past either, the folder is over its quota and the rest need not be seen. */
export interface DiskUsageLimits {
  /** Stop once more bytes than this are counted. */
  bytes: number;
  /** Stop once more entries than this are seen (each costs a stat per measurement, and an inode). */
  entries: number;
}

/**
 * Disk use of `root`: allocated blocks where the file system reports them (a sparse file takes
 * what it really uses), the apparent size otherwise. `lstat` only, so symlinks are not followed;
 * a root that is itself a symlink or missing counts as empty.
 */
export async function diskUsage(root: string, limits: DiskUsageLimits): Promise<DiskUsage> {
  const usage: DiskUsage = { bytes: 0, entries: 0, complete: true };
  const seen = new Set<string>();
  const over = () => usage.bytes > limits.bytes || usage.entries > limits.entries;
  const count = (info: Deno.FileInfo): void => {
    usage.entries++;
    // A file with several names takes its blocks once.
    if (info.nlink !== null && info.nlink > 1 && !info.isDirectory) {
      const id = `${info.dev}:${info.ino}`;
      if (seen.has(id)) return;
      seen.add(id);
    }
    usage.bytes += info.blocks !== null ? info.blocks * 512 : info.size;
  };
  let top: Deno.FileInfo;
  try {
    top = await Deno.lstat(root);
  } catch {
    return usage;
  }
  if (!top.isDirectory) return usage;
  count(top);
  const folders = [root];
  while (folders.length) {
    const dir = folders.pop()!;
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        let info: Deno.FileInfo;
        try {
          info = await Deno.lstat(path);
        } catch {
          continue; // Deleted while we walked.
        }
        count(info);
        if (over()) return { ...usage, complete: false };
        if (info.isDirectory) folders.push(path);
      }
    } catch {
      // A folder deleted or made unreadable while we walked counts as what was seen of it.
    }
  }
  return usage;
}
