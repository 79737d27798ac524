/**
 * Race-free file access beneath a workspace root, for the file tools that run in the host process.
 *
 * The sandbox may change the workspace while a host-side tool works in it: it can swap a folder
 * for a symlink to a host folder between a tool's check of a path and its open of it. So no path
 * is opened by name from the root here. Each folder is opened beneath the one before it, with
 * `O_NOFOLLOW`, through `/proc/self/fd/<fd>/<name>` (the semantics of `openat(2)`: the kernel
 * looks `name` up in the folder the descriptor holds, whatever has been renamed since). Symlinks
 * are read and followed here, one component at a time, and may not lead out of the root. Only
 * regular files are read or written, and they are opened non-blocking, so a FIFO or a device
 * never stalls the process.
 *
 * Where `/proc/self/fd` cannot be used (another OS, or a process without `--allow-all`), each
 * open is by full path instead and is checked after the fact: the opened file must be the one
 * an lstat of its symlink-free path finds, below folders that are still the ones walked. That
 * fallback narrows the race to a double swap within microseconds; only the `/proc` mode closes
 * it.
 *
 * @module
 */
import fs from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

const C = fs.constants;
const O_NOFOLLOW = C.O_NOFOLLOW ?? 0;
const O_NONBLOCK = C.O_NONBLOCK ?? 0;
const O_DIRECTORY = C.O_DIRECTORY ?? 0;
const O_NOCTTY = C.O_NOCTTY ?? 0;
/** Flags of every open: never through a final symlink, never waiting, never a terminal. */
const SAFE = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
/** Symlinks followed in one path before it counts as a loop, as Linux counts them. */
const MAX_HOPS = 40;
/** Bytes read or written per call. */
const CHUNK = 1 << 20;

/** A path that would leave the workspace. Tools report it to the model as an error. */
export class PathEscapeError extends Error {
  /** An error for `path`, which resolves outside the workspace. */
  constructor(path: string) {
    super(`path '${path}' is outside the workspace`);
    this.name = "PathEscapeError";
  }
}

/** What a path names, as far as the file tools care. */
export type FileKind = "file" | "directory" | "symlink" | "fifo" | "socket" | "device" | "other";

/** A path that names something other than what the operation needs (a folder, a FIFO...). */
export class FileKindError extends Error {
  /** An error for `path`, which is a `kind` where `wanted` was needed. */
  constructor(
    readonly path: string,
    readonly kind: FileKind,
    wanted: "a regular file" | "a folder" = "a regular file",
  ) {
    super(`${path} is ${KIND_TEXT[kind]}, not ${wanted}`);
    this.name = "FileKindError";
  }
}

const KIND_TEXT: Record<FileKind, string> = {
  file: "a file",
  directory: "a directory",
  symlink: "a symlink",
  fifo: "a FIFO (named pipe)",
  socket: "a socket",
  device: "a device",
  other: "a special file",
};

/** What the guard needs of a stat, from Deno's or node's. */
interface Info {
  kind: FileKind;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
}

function fromDeno(st: Deno.FileInfo): Info {
  const kind: FileKind = st.isFile
    ? "file"
    : st.isDirectory
    ? "directory"
    : st.isSymlink
    ? "symlink"
    : st.isFifo
    ? "fifo"
    : st.isSocket
    ? "socket"
    : st.isCharDevice || st.isBlockDevice
    ? "device"
    : "other";
  return { kind, size: st.size, mtimeMs: st.mtime?.getTime() ?? 0, dev: st.dev, ino: st.ino ?? 0 };
}

function fromNode(st: fs.Stats): Info {
  const kind: FileKind = st.isFile()
    ? "file"
    : st.isDirectory()
    ? "directory"
    : st.isSymbolicLink()
    ? "symlink"
    : st.isFIFO()
    ? "fifo"
    : st.isSocket()
    ? "socket"
    : st.isCharacterDevice() || st.isBlockDevice()
    ? "device"
    : "other";
  return { kind, size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino };
}

/** `path`'s own metadata (a symlink is not followed). */
function lstatInfo(path: string): Info {
  return fromDeno(Deno.lstatSync(path));
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string })?.code;
}

function notFound(path: string): Error {
  return new Deno.errors.NotFound(path);
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}

/** Whether `/proc/self/fd/<fd>/<name>` reaches the folder a descriptor holds; checked once. */
let procWorks: boolean | undefined;
function procUsable(fd: number): boolean {
  if (procWorks === undefined) {
    try {
      const held = fs.fstatSync(fd);
      const seen = Deno.statSync(`/proc/self/fd/${fd}`);
      procWorks = held.dev === seen.dev && held.ino === seen.ino;
    } catch {
      procWorks = false;
    }
  }
  return procWorks;
}

/** An open folder beneath the root, with its names from the root. */
interface Held {
  fd: number;
  names: string[];
  dev: number;
  ino: number;
}

/** What {@linkcode WorkspaceFiles.stat} says about a path. */
export interface FileInfo {
  /** What the path names, after following symlinks beneath the root. */
  kind: FileKind;
  /** The path relative to the root, symlinks resolved, with `/` separators (`.` for the root). */
  rel: string;
  /** Size in bytes. */
  size: number;
  /** Modification time, epoch milliseconds. */
  mtimeMs: number;
}

/** A regular file met by {@linkcode WorkspaceFiles.walk}. */
export interface WalkedFile {
  /** Its path relative to the root, `/` separated. */
  rel: string;
  /** Its name. */
  name: string;
  /** Its size and modification time now, or undefined when it is no longer a regular file. */
  stat(): { size: number; mtimeMs: number } | undefined;
  /**
   * Its bytes, or undefined when it holds more than `maxBytes` or is no longer a regular file.
   * Call it (and `stat`) before the walk moves on.
   */
  read(maxBytes: number, signal?: AbortSignal): Promise<Uint8Array | undefined>;
}

/** One entry of a folder, as {@linkcode WorkspaceFiles.list} gives it (symlinks not followed). */
export interface ListedEntry {
  /** The entry's name. */
  name: string;
  /** What it is, not following a symlink. */
  kind: FileKind;
  /** Its size in bytes (0 for anything but a regular file). */
  size: number;
}

/** An opened regular file and where it is. */
interface Opened {
  fd: number;
  rel: string;
  size: number;
  mtimeMs: number;
  created: boolean;
}

/**
 * Reads and writes files beneath `root` without ever leaving it, whatever runs concurrently in
 * the workspace. Paths are relative to the root or absolute inside it; symlinks are followed as
 * long as they stay beneath the root.
 *
 * @example
 * ```ts ignore
 * const files = new WorkspaceFiles(Deno.realPathSync("."));
 * const { bytes } = await files.readFile("README.md", { maxBytes: 1_000_000 });
 * ```
 */
export class WorkspaceFiles {
  readonly #useProc: boolean;

  /**
   * Files beneath `root`, a real path (no symlinks in it). `useProc: false` takes the fallback
   * (opens by path, checked after) even where `/proc/self/fd` works: for tests.
   */
  constructor(readonly root: string, options: { useProc?: boolean } = {}) {
    this.#useProc = options.useProc ?? true;
  }

  #proc(fd: number): boolean {
    return this.#useProc && procUsable(fd);
  }

  /** What descriptor `fd` holds. */
  #fstat(fd: number): Info {
    return this.#proc(fd)
      ? fromDeno(Deno.statSync(`/proc/self/fd/${fd}`))
      : fromNode(fs.fstatSync(fd));
  }

  /** The kind, size and resolved relative path of `path`, following symlinks beneath the root. */
  stat(path: string): FileInfo {
    return this.#at(path, false, (walk, name) => {
      const st = name === undefined ? this.#fstat(walk.top.fd) : this.#lstat(walk.top, name, path);
      if (st.kind === "symlink" && name !== undefined) return walk.follow(name);
      return { kind: st.kind, rel: walk.rel(name), size: st.size, mtimeMs: st.mtimeMs };
    });
  }

  /**
   * The bytes of regular file `path` (undefined when it holds more than `maxBytes`), with its
   * resolved relative path. Anything but a regular file is refused with {@linkcode FileKindError}.
   */
  async readFile(
    path: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<{ bytes: Uint8Array | undefined; rel: string; size: number }> {
    const file = this.#open(path, "read");
    try {
      const bytes = await readFd(file.fd, file.size, options.maxBytes, options.signal);
      return { bytes, rel: file.rel, size: file.size };
    } finally {
      closeQuietly(file.fd);
    }
  }

  /**
   * The first `maxBytes` bytes of regular file `path`, read synchronously (for checks that
   * cannot wait). Never blocks on a FIFO or device: they are refused.
   */
  readHeadSync(path: string, maxBytes: number): Uint8Array {
    const file = this.#open(path, "read");
    try {
      const buffer = new Uint8Array(Math.min(maxBytes, Math.max(file.size, 0)));
      let filled = 0;
      while (filled < buffer.length) {
        const n = fs.readSync(file.fd, buffer, filled, buffer.length - filled, filled);
        if (n <= 0) break;
        filled += n;
      }
      return buffer.subarray(0, filled);
    } finally {
      closeQuietly(file.fd);
    }
  }

  /**
   * Creates or overwrites regular file `path` with `data`, making its folders. Says whether it
   * was created and where it is.
   */
  async writeFile(
    path: string,
    data: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ created: boolean; rel: string }> {
    const file = this.#open(path, "write");
    try {
      fs.ftruncateSync(file.fd, 0);
      await writeFd(file.fd, data, options.signal);
      return { created: file.created, rel: file.rel };
    } finally {
      closeQuietly(file.fd);
    }
  }

  /**
   * Reads regular file `path` and replaces its content with what `change` makes of it, through
   * one descriptor, so the file changed is the file read. `change` may throw to change nothing.
   */
  async updateFile(
    path: string,
    change: (bytes: Uint8Array, rel: string) => Uint8Array,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<{ rel: string }> {
    const file = this.#open(path, "update");
    try {
      const bytes = await readFd(file.fd, file.size, options.maxBytes, options.signal);
      if (bytes === undefined) {
        throw new Error(`${path} is larger than ${options.maxBytes} bytes`);
      }
      const next = change(bytes, file.rel);
      options.signal?.throwIfAborted();
      fs.ftruncateSync(file.fd, 0);
      await writeFd(file.fd, next, options.signal);
      return { rel: file.rel };
    } finally {
      closeQuietly(file.fd);
    }
  }

  /** Deletes the regular file (or other non-folder) `path` names; returns its relative path. */
  remove(path: string): string {
    return this.#at(path, false, (walk, name) => {
      if (name === undefined) throw new FileKindError(path, "directory");
      const st = this.#lstat(walk.top, name, path);
      if (st.kind === "symlink") return walk.follow(name);
      if (st.kind === "directory") throw new FileKindError(path, "directory");
      this.#checkChain(walk.top);
      fs.unlinkSync(this.#path(walk.top, name));
      return walk.rel(name);
    });
  }

  /** The entries of folder `path` (names sorted), and its resolved relative path. */
  async list(path: string): Promise<{ rel: string; entries: ListedEntry[] }> {
    const dir = this.#openDir(path);
    try {
      const entries: ListedEntry[] = [];
      for (const { name } of await this.#entries(dir)) {
        let st: Info;
        try {
          st = lstatInfo(this.#path(dir, name));
        } catch {
          continue; // gone since it was listed
        }
        entries.push({ name, kind: st.kind, size: st.kind === "file" ? st.size : 0 });
      }
      return { rel: dir.names.join("/") || ".", entries };
    } finally {
      closeQuietly(dir.fd);
    }
  }

  /**
   * The regular files beneath folder `path`, depth first in name order, not following symlinks
   * and skipping folders `skip` names. Each is read through the folder it was found in.
   */
  async *walk(
    path: string,
    options: { signal?: AbortSignal; skip?: (name: string) => boolean } = {},
  ): AsyncGenerator<WalkedFile> {
    const start = this.#openDir(path);
    yield* this.#walkHeld(start, options);
  }

  async *#walkHeld(
    dir: Held,
    options: { signal?: AbortSignal; skip?: (name: string) => boolean },
  ): AsyncGenerator<WalkedFile> {
    try {
      // Kinds as the folder lists them (not following symlinks); each is checked again when
      // opened, through this folder.
      for (const entry of await this.#entries(dir)) {
        options.signal?.throwIfAborted();
        const name = entry.name;
        if (entry.isDirectory) {
          if (options.skip?.(name)) continue;
          const child = this.#openChildDir(dir, name);
          if (child) yield* this.#walkHeld(child, options);
        } else if (entry.isFile) {
          let current = true;
          const rel = [...dir.names, name].join("/");
          const live = () => {
            if (!current) throw new Error(`${rel}: used after the walk moved on`);
          };
          yield {
            rel,
            name,
            stat: () => {
              live();
              try {
                const st = lstatInfo(this.#path(dir, name));
                return st.kind === "file" ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
              } catch {
                return undefined;
              }
            },
            read: async (maxBytes, signal) => {
              live();
              const file = this.#openChildFile(dir, name);
              if (file === undefined) return undefined;
              try {
                if (file.size > maxBytes) return undefined;
                return await readFd(file.fd, file.size, maxBytes, signal);
              } finally {
                closeQuietly(file.fd);
              }
            },
          };
          current = false;
        }
      }
    } finally {
      closeQuietly(dir.fd);
    }
  }

  // ---- internals --------------------------------------------------------------------------

  /** `path` as components relative to the root; `..` that climbs above it is an escape. */
  #parts(path: string): string[] {
    const abs = isAbsolute(path) ? resolve(path) : resolve(this.root, path);
    if (!inside(this.root, abs)) throw new PathEscapeError(path);
    return relative(this.root, abs).split(sep).filter((p) => p !== "");
  }

  #openRoot(): Held {
    const fd = fs.openSync(this.root, C.O_RDONLY | O_DIRECTORY | SAFE);
    try {
      const st = this.#fstat(fd);
      return { fd, names: [], dev: st.dev, ino: st.ino };
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }

  /** The path that reaches `name` inside folder `dir`. */
  #path(dir: Held, name: string): string {
    return this.#proc(dir.fd)
      ? `/proc/self/fd/${dir.fd}/${name}`
      : join(this.root, ...dir.names, name);
  }

  #lstat(dir: Held, name: string, path: string): Info {
    try {
      return lstatInfo(this.#path(dir, name));
    } catch (error) {
      if (codeOf(error) === "ENOENT") throw notFound(path);
      throw error;
    }
  }

  /**
   * Without `/proc`: checks that the folders from the root to `dir` are still the ones that were
   * opened, reached by a path without symlinks, so what was opened by path below it is inside.
   */
  #checkChain(dir: Held): void {
    if (this.#proc(dir.fd)) return;
    const abs = join(this.root, ...dir.names);
    const st = Deno.statSync(abs);
    if (Deno.realPathSync(abs) !== abs || st.dev !== dir.dev || st.ino !== dir.ino) {
      throw new PathEscapeError(dir.names.join("/"));
    }
  }

  /** Without `/proc`: checks that `fd`, opened as `name` in `dir`, is what that path names. */
  #checkOpened(dir: Held, name: string, fd: number): Info {
    const st = this.#fstat(fd);
    if (this.#proc(dir.fd)) return st;
    const seen = lstatInfo(this.#path(dir, name));
    if (seen.dev !== st.dev || seen.ino !== st.ino) {
      throw new PathEscapeError([...dir.names, name].join("/"));
    }
    this.#checkChain(dir);
    return st;
  }

  /** Opens folder `name` in `dir` (not through a symlink); undefined when it is not one now. */
  #openChildDir(dir: Held, name: string): Held | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.#path(dir, name), C.O_RDONLY | O_DIRECTORY | SAFE);
    } catch {
      return undefined;
    }
    try {
      const st = this.#checkOpened(dir, name, fd);
      if (st.kind !== "directory") throw new FileKindError(name, st.kind, "a folder");
      return { fd, names: [...dir.names, name], dev: st.dev, ino: st.ino };
    } catch {
      closeQuietly(fd);
      return undefined;
    }
  }

  /** Opens regular file `name` in `dir` for reading; undefined when it is not one now. */
  #openChildFile(dir: Held, name: string): { fd: number; size: number } | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.#path(dir, name), C.O_RDONLY | SAFE);
    } catch {
      return undefined;
    }
    try {
      const st = this.#checkOpened(dir, name, fd);
      if (st.kind === "file") return { fd, size: st.size };
    } catch {
      // not the file listed: skipped like one that is gone
    }
    closeQuietly(fd);
    return undefined;
  }

  /** The entries of an opened folder, sorted by name as the walk yields them. */
  async #entries(dir: Held): Promise<Deno.DirEntry[]> {
    const entries: Deno.DirEntry[] = [];
    const at = this.#proc(dir.fd) ? `/proc/self/fd/${dir.fd}` : join(this.root, ...dir.names);
    for await (const entry of Deno.readDir(at)) entries.push(entry);
    this.#checkChain(dir);
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Walks `path` to the folder holding its last component and hands both to `use`, which may
   * return {@linkcode Walk.follow}'s marker to go on through a symlink. Folders on the way are
   * made when `mkdirs` is set.
   */
  #at<T>(
    path: string,
    mkdirs: boolean,
    use: (walk: Walk, name: string | undefined) => T | typeof FOLLOW,
  ): T {
    const parts = this.#parts(path);
    const walk = new Walk(this, this.#openRoot(), path);
    try {
      let pending = parts;
      for (;;) {
        const name = walk.descend(pending, mkdirs);
        const result = use(walk, name);
        if (result !== FOLLOW) return result as T;
        pending = walk.pending;
      }
    } catch (error) {
      throw translate(error, path);
    } finally {
      walk.close();
    }
  }

  /** Opens the folder `path` names; the caller closes it. */
  #openDir(path: string): Held {
    return this.#at(path, false, (walk, name) => {
      if (name === undefined) return walk.detachTop();
      let fd: number;
      try {
        fd = fs.openSync(this.#path(walk.top, name), C.O_RDONLY | O_DIRECTORY | SAFE);
      } catch (error) {
        const code = codeOf(error);
        if ((code === "ENOTDIR" || code === "ELOOP") && walk.isLink(name)) {
          return walk.follow(name);
        }
        if (code === "ELOOP") return walk.again(name, error);
        if (code === "ENOENT") throw notFound(path);
        if (code === "ENOTDIR") {
          const kind = this.#lstat(walk.top, name, path).kind;
          if (kind === "directory") return walk.again(name, error); // it changed: once more
          throw new FileKindError(path, kind, "a folder");
        }
        throw error;
      }
      try {
        const st = this.#checkOpened(walk.top, name, fd);
        return { fd, names: [...walk.top.names, name], dev: st.dev, ino: st.ino };
      } catch (error) {
        closeQuietly(fd);
        throw error;
      }
    });
  }

  /** Opens regular file `path`: to read, to overwrite (created with its folders), or both. */
  #open(path: string, how: "read" | "write" | "update"): Opened {
    return this.#at(path, how === "write", (walk, name) => {
      if (name === undefined) throw new FileKindError(path, "directory");
      const at = this.#path(walk.top, name);
      let fd: number;
      let created = false;
      try {
        if (how === "write") {
          try {
            fd = fs.openSync(at, C.O_WRONLY | C.O_CREAT | C.O_EXCL | SAFE, 0o666);
            created = true;
          } catch (error) {
            if (codeOf(error) !== "EEXIST") throw error;
            fd = fs.openSync(at, C.O_WRONLY | SAFE);
          }
        } else fd = fs.openSync(at, (how === "read" ? C.O_RDONLY : C.O_RDWR) | SAFE);
      } catch (error) {
        const code = codeOf(error);
        if ((code === "ELOOP" || code === "EEXIST") && walk.isLink(name)) {
          return walk.follow(name);
        }
        // A symlink when opened, something else when looked at: it changed, try again.
        if (code === "ELOOP" || code === "EEXIST") return walk.again(name, error);
        if (code === "ENOENT") throw notFound(path);
        if (code === "EISDIR") throw new FileKindError(path, "directory");
        if (code === "ENXIO" || code === "ENODEV" || code === "EOPNOTSUPP") {
          throw new FileKindError(path, this.#lstat(walk.top, name, path).kind);
        }
        throw error;
      }
      try {
        const st = this.#checkOpened(walk.top, name, fd);
        if (st.kind !== "file") throw new FileKindError(path, st.kind);
        return { fd, rel: walk.rel(name), size: st.size, mtimeMs: st.mtimeMs, created };
      } catch (error) {
        closeQuietly(fd);
        throw error;
      }
    });
  }

  /** For {@linkcode Walk}: the path to `name` in `dir`. */
  pathIn(dir: Held, name: string): string {
    return this.#path(dir, name);
  }

  /** For {@linkcode Walk}: opens folder `name` in `dir`, checked like every other open. */
  openDirIn(dir: Held, name: string): Held {
    const fd = fs.openSync(this.#path(dir, name), C.O_RDONLY | O_DIRECTORY | SAFE);
    try {
      const st = this.#checkOpened(dir, name, fd);
      return { fd, names: [...dir.names, name], dev: st.dev, ino: st.ino };
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }
}

const filesOf = new WeakMap<object, WorkspaceFiles>();

/**
 * The guarded files of `workspace` (a `Workspace` of `workspace.ts`): what every file
 * tool reads and writes through.
 */
export function workspaceFiles(workspace: { readonly root: string }): WorkspaceFiles {
  let files = filesOf.get(workspace);
  if (!files) filesOf.set(workspace, files = new WorkspaceFiles(workspace.root));
  return files;
}

/** What {@linkcode Walk.follow} returns: go on with the symlink's target. */
const FOLLOW: unique symbol = Symbol("follow");

/** A walk down from the root: the folders open on the way, and symlink bookkeeping. */
class Walk {
  readonly #files: WorkspaceFiles;
  readonly #stack: Held[];
  readonly #path: string;
  #hops = 0;
  #retries = 0;
  /** The components still to walk after a symlink was followed. */
  pending: string[] = [];

  constructor(files: WorkspaceFiles, root: Held, path: string) {
    this.#files = files;
    this.#stack = [root];
    this.#path = path;
  }

  /** The folder reached so far. */
  get top(): Held {
    return this.#stack[this.#stack.length - 1];
  }

  /** The relative path of `name` in the folder reached (of that folder when unset). */
  rel(name?: string): string {
    return [...this.top.names, ...(name === undefined ? [] : [name])].join("/") || ".";
  }

  /**
   * Walks `parts` but the last through folders (symlinks followed beneath the root; `..`
   * stops at it) and returns the last, or undefined when the path names the folder reached.
   */
  descend(parts: string[], mkdirs: boolean): string | undefined {
    const queue = [...parts];
    while (queue.length) {
      const part = queue.shift()!;
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (this.#stack.length === 1) throw new PathEscapeError(this.#path);
        closeQuietly(this.#stack.pop()!.fd);
        continue;
      }
      if (!queue.length) return part;
      const next = this.#enter(part, mkdirs);
      if (next === undefined) queue.unshift(...this.pending);
      else this.#stack.push(next);
    }
    return undefined;
  }

  /** Opens folder `part` in the top folder, making it if asked; undefined after a symlink. */
  #enter(part: string, mkdirs: boolean): Held | undefined {
    for (let attempt = 0;; attempt++) {
      try {
        return this.#files.openDirIn(this.top, part);
      } catch (error) {
        const code = codeOf(error);
        if ((code === "ENOTDIR" || code === "ELOOP") && this.isLink(part)) {
          this.pending = this.#target(part);
          return undefined;
        }
        // Changed between the open and the look at it (a folder again): look once more.
        if ((code === "ENOTDIR" || code === "ELOOP") && attempt < 8 && this.#isDir(part)) continue;
        if (code === "ENOENT" && mkdirs && attempt < 8) {
          try {
            fs.mkdirSync(this.#files.pathIn(this.top, part), 0o777);
          } catch (made) {
            if (codeOf(made) !== "EEXIST") throw made;
          }
          continue;
        }
        if (code === "ENOENT") throw notFound(this.#path);
        throw error;
      }
    }
  }

  #isDir(name: string): boolean {
    try {
      return lstatInfo(this.#files.pathIn(this.top, name)).kind === "directory";
    } catch {
      return false;
    }
  }

  /** Whether `name` in the top folder is a symlink now. */
  isLink(name: string): boolean {
    try {
      return lstatInfo(this.#files.pathIn(this.top, name)).kind === "symlink";
    } catch {
      return false;
    }
  }

  /** Opens `name` once more (it changed while it was opened), a few times at most. */
  again(name: string, error: unknown): typeof FOLLOW {
    if (++this.#retries > 8) throw error;
    this.pending = [name];
    return FOLLOW;
  }

  /** Goes on through symlink `name` of the top folder: the caller returns the marker. */
  follow(name: string): typeof FOLLOW {
    this.pending = this.#target(name);
    return FOLLOW;
  }

  /** The components of symlink `name`'s target, from the folder the walk must go on in. */
  #target(name: string): string[] {
    if (++this.#hops > MAX_HOPS) {
      throw new Error(`${this.#path}: too many levels of symbolic links`);
    }
    const target = fs.readlinkSync(this.#files.pathIn(this.top, name));
    if (!isAbsolute(target)) return target.split("/");
    const abs = resolve(target);
    if (!inside(this.#files.root, abs)) throw new PathEscapeError(this.#path);
    while (this.#stack.length > 1) closeQuietly(this.#stack.pop()!.fd);
    return relative(this.#files.root, abs).split(sep).filter((p) => p !== "");
  }

  /** Hands the top folder to the caller, who closes it. */
  detachTop(): Held {
    const top = this.#stack.pop()!;
    return top;
  }

  /** Closes every folder still open. */
  close(): void {
    while (this.#stack.length) closeQuietly(this.#stack.pop()!.fd);
  }
}

/**
 * An error of the system calls above as the model should read it: named by the path it was
 * given (never a `/proc/self/fd` path), as Deno's own errors are where there is one.
 */
function translate(error: unknown, path: string): unknown {
  if (error instanceof PathEscapeError || error instanceof FileKindError) return error;
  if (error instanceof Deno.errors.NotFound) return notFound(path);
  if (!codeOf(error)) return error;
  switch (codeOf(error)) {
    case "ENOENT":
      return notFound(path);
    case "ENOTDIR":
      return new Error(
        `${path}: a part of the path is not a folder (or changed while it was used)`,
      );
    case "ELOOP":
      return new Error(`${path}: too many levels of symbolic links`);
    case "EACCES":
    case "EPERM":
      return new Deno.errors.PermissionDenied(`${path}: permission denied`);
    case "ENAMETOOLONG":
      return new Error(`${path}: name too long`);
    case "ENOSPC":
    case "EDQUOT":
      return new Error(`${path}: no space left`);
    default:
      return new Error(`${path}: ${codeOf(error)}`);
  }
}

/** Files up to this size are read in one synchronous call: quicker than a round trip. */
const SYNC_READ = 256 * 1024;

/**
 * Reads all of regular file `fd` from its start (`size` bytes when it was opened; it may have
 * changed since); undefined when it holds more than `maxBytes`.
 */
async function readFd(
  fd: number,
  size: number,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // One byte past the expected end tells a file that grew from one that did not.
  let want = Math.min(Math.max(size, 0) + 1, maxBytes + 1, CHUNK);
  for (;;) {
    signal?.throwIfAborted();
    const buffer = new Uint8Array(want);
    const at = total;
    const n = want <= SYNC_READ ? fs.readSync(fd, buffer, 0, want, at) : await new Promise<number>(
      (done, fail) =>
        fs.read(fd, buffer, 0, want, at, (error, read) => error ? fail(error) : done(read)),
    );
    if (n <= 0) break;
    chunks.push(n === want ? buffer : buffer.subarray(0, n));
    total += n;
    if (total > maxBytes) return undefined;
    want = Math.min(CHUNK, maxBytes + 1 - total);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes all of `data` to `fd` from its start. */
async function writeFd(fd: number, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  let done = 0;
  while (done < data.length) {
    signal?.throwIfAborted();
    const part = data.subarray(done, Math.min(data.length, done + CHUNK));
    const n = await new Promise<number>((ok, fail) =>
      fs.write(
        fd,
        part,
        0,
        part.length,
        done,
        (error, written) => error ? fail(error) : ok(written),
      )
    );
    if (n <= 0) throw new Error("write made no progress");
    done += n;
  }
}
