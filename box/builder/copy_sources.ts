/**
 * What `COPY` and `ADD` put in a layer: sources from the build context (minus `.dockerignore`d
 * paths) or from another stage's rootfs, resolved inside their root, with Docker's rules for
 * where they land (a directory's contents go into the destination; several sources or a
 * trailing `/` make the destination a directory). `ADD` unpacks local tar archives.
 */
import { basename, join } from "node:path";
import { ValidationError } from "@a3s/common";
import { maybeGunzip, readTar, type TarInput } from "../image/tar.ts";
import { safeComponents } from "../image/extract.ts";
import type { DockerIgnore } from "./dockerignore.ts";
import { resolveInRoot } from "./rootfs_path.ts";

/** Where a copy reads from and how it writes. */
export interface CopyRequest {
  /** The build context dir or a stage's rootfs. */
  root: string;
  /** Applied to context-relative paths; absent for stage and image sources. */
  ignore?: DockerIgnore;
  sources: string[];
  /** Absolute destination inside the image. */
  dest: string;
  /** `--chown=uid[:gid]`, numeric. */
  owner?: { uid: number; gid: number };
  /** `--chmod=octal`. */
  mode?: number;
  /** `ADD`: unpack local tar archives (gzip or plain) instead of copying them. */
  unpackArchives: boolean;
  /** Names the instruction in errors. */
  line: number;
  instruction: string;
  /** The destination is a directory whatever `sources` holds (an `ADD` mixing in URLs). */
  intoDirectory?: boolean;
}

/** Whether a `COPY`/`ADD` source is a URL rather than a path in the context. */
export function isUrlSource(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
}

function fail(request: CopyRequest, message: string): ValidationError {
  return new ValidationError(
    `Dockerfile line ${request.line}: ${request.instruction} ${message}`,
    "dockerfile",
  );
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(
    /\?/g,
    "[^/]",
  );
  return new RegExp(`^${body}$`);
}

/** Expands a trailing-component glob (`src/*.txt`) against the root; other paths pass through. */
async function expand(request: CopyRequest, source: string): Promise<string[]> {
  const parts = source.split("/").filter((p) => p !== "" && p !== ".");
  const last = parts.at(-1) ?? "";
  if (!/[*?[]/.test(last)) return [parts.join("/")];
  const parentPath = parts.slice(0, -1).join("/");
  const parent = await resolveInRoot(request.root, parentPath);
  if (!parent) return [];
  const matcher = globToRegExp(last);
  const names: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (matcher.test(entry.name)) names.push(entry.name);
  }
  return names.sort().map((name) => (parentPath ? `${parentPath}/${name}` : name));
}

function isTarArchive(data: Uint8Array): boolean {
  if (data[0] === 0x1f && data[1] === 0x8b) return true;
  return data.length >= 512 && new TextDecoder().decode(data.subarray(257, 262)) === "ustar";
}

function relative(root: string, host: string): string {
  return host.slice(root.length).replace(/^\/+/, "");
}

/** Collects the tar entries a `COPY`/`ADD` adds, sorted as they were found. */
export async function collectCopy(request: CopyRequest): Promise<TarInput[]> {
  const entries: TarInput[] = [];
  const destParts = safeComponents(request.dest);
  const destIsDir = request.dest.endsWith("/") || request.sources.length > 1 ||
    request.intoDirectory === true;
  const owner = request.owner ?? { uid: 0, gid: 0 };
  const target = (...more: string[]) => [...destParts, ...more].join("/");
  const ignored = (host: string) => request.ignore?.ignores(relative(request.root, host)) ?? false;
  const mode = (info: Deno.FileInfo, fallback: number) =>
    request.mode ?? ((info.mode ?? fallback) & 0o7777);
  const mtime = (info: Deno.FileInfo) => Math.floor((info.mtime?.getTime() ?? 0) / 1000);

  const walk = async (hostDir: string, into: string[]) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(hostDir)) names.push(entry.name);
    for (const name of names.sort()) {
      const host = join(hostDir, name);
      if (ignored(host)) continue;
      const info = await Deno.lstat(host);
      const path = target(...into, name);
      if (info.isDirectory) {
        entries.push({ path, type: "dir", mode: mode(info, 0o755), ...owner, mtime: mtime(info) });
        await walk(host, [...into, name]);
      } else if (info.isSymlink) {
        entries.push({
          path,
          type: "symlink",
          linkname: await Deno.readLink(host),
          ...owner,
          mtime: mtime(info),
        });
      } else if (info.isFile) {
        entries.push({
          path,
          type: "file",
          mode: mode(info, 0o644),
          data: await Deno.readFile(host),
          ...owner,
          mtime: mtime(info),
        });
      }
    }
  };

  let matched = 0;
  for (const pattern of request.sources) {
    if (isUrlSource(pattern)) {
      throw fail(request, `cannot take a URL ('${pattern}'): only ADD fetches URLs`);
    }
    for (const source of await expand(request, pattern)) {
      const host = await resolveInRoot(request.root, source);
      if (!host || ignored(host)) continue;
      matched++;
      const info = await Deno.stat(host);
      if (info.isDirectory) {
        await walk(host, []);
        continue;
      }
      if (!info.isFile) continue;
      const data = await Deno.readFile(host);
      if (request.unpackArchives && isTarArchive(data)) {
        for (const entry of readTar(await maybeGunzip(data))) {
          if (
            entry.type !== "file" && entry.type !== "dir" && entry.type !== "symlink" &&
            entry.type !== "hardlink"
          ) continue;
          const parts = safeComponents(entry.path);
          if (parts.length === 0) continue;
          entries.push({
            path: target(...parts),
            type: entry.type,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            mtime: entry.mtime,
            linkname: entry.type === "hardlink"
              ? target(...safeComponents(entry.linkname))
              : entry.linkname,
            data: entry.data,
          });
        }
        continue;
      }
      const isDirTarget = destIsDir || /[*?[]/.test(pattern);
      entries.push({
        path: isDirTarget ? target(basename(host)) : target(),
        type: "file",
        mode: mode(info, 0o644),
        data,
        ...owner,
        mtime: mtime(info),
      });
    }
  }
  if (matched === 0) {
    throw fail(request, `source ${request.sources.join(" ")} not found`);
  }
  return entries;
}
