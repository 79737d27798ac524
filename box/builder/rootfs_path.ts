/**
 * Path resolution confined to a root directory: symlinks are followed as if the root were `/`,
 * so a symlink in a build context or a stage's rootfs can never make `COPY` read a host file
 * outside it.
 */
import { join } from "node:path";
import { ValidationError } from "@a3s/common";

const MAX_LINKS = 40;

function components(path: string): string[] {
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

/**
 * Resolves `path` (taken as absolute inside `root`) to a host path inside `root`, following
 * symlinks within the root. With `followLast` false, a final symlink is returned as itself.
 * Returns undefined when something on the way does not exist.
 */
export async function resolveInRoot(
  root: string,
  path: string,
  followLast = true,
): Promise<string | undefined> {
  const pending = components(path);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(host);
    } catch {
      return undefined;
    }
    if (info.isSymlink && (pending.length > 0 || followLast)) {
      if (++links > MAX_LINKS) {
        throw new ValidationError(`too many symlinks resolving '${path}'`, "source");
      }
      const target = await Deno.readLink(host);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...components(target));
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** Joins a possibly relative path onto a base, normalizing `.` and `..` without leaving `/`. */
export function absoluteIn(base: string, path: string): string {
  const parts: string[] = [];
  for (const part of components(path.startsWith("/") ? path : `${base}/${path}`)) {
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
