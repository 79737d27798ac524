/** Walks workspace files for grep, glob and codesearch, skipping VCS and dependency folders. */
import { join } from "node:path";

const SKIPPED = new Set([
  ".git",
  "node_modules",
  ".hg",
  ".svn",
  "target",
  "dist",
  ".worktrees",
  ".venv",
  "__pycache__",
]);

/** Yields absolute file paths under `dir`, depth first, in name order, not following links. */
export async function* walkFiles(dir: string, signal?: AbortSignal): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    signal?.throwIfAborted();
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (!SKIPPED.has(entry.name)) yield* walkFiles(path, signal);
    } else if (entry.isFile) yield path;
  }
}

/** Reads a file as text, or undefined when it looks binary or is larger than `maxBytes`. */
export async function readTextIfSmall(
  path: string,
  maxBytes = 2_000_000,
): Promise<string | undefined> {
  const info = await Deno.stat(path);
  if (info.size > maxBytes) return undefined;
  const bytes = await Deno.readFile(path);
  if (bytes.subarray(0, 8000).includes(0)) return undefined;
  return new TextDecoder().decode(bytes);
}
