/**
 * The model store: `<home>/models/<name>/<tag>/` holds one model directory each, beside the
 * read-only models that ship with power or that the config names.
 */
import { dirname, join, relative, resolve } from "node:path";
import { unzipSync } from "fflate";
import { A3sError, NotFoundError, ValidationError } from "@a3s/common";
import { type ModelManifest, readModelDir } from "../engine/model_dir.ts";
import { nameParts, normalizeName } from "./names.ts";

/** One model the store knows. */
export interface StoredModel {
  /** Its normalized name (`name:tag`). */
  name: string;
  /** Its directory on this host (never shown to API callers). */
  dir: string;
  /** Shipped or configured models cannot be removed. */
  builtin: boolean;
  /** When its newest file changed. */
  modifiedAt: Date;
  /** Bytes of all its files. */
  size: number;
  /** A SHA-256 of its config and size, hex. */
  digest: string;
}

/** Where a pull stands, in Ollama's progress shape. */
export interface PullProgress {
  /** What the pull is doing, such as `downloading` or `success`. */
  status: string;
  /** The layer being transferred. */
  digest?: string;
  /** Bytes in that layer. */
  total?: number;
  /** Bytes of it done. */
  completed?: number;
}

/**
 * What a pull asks of an access policy before it reads a path or fetches a URL that a
 * request chose; `AccessPolicy` from `@a3s/common` is the one serve uses.
 */
export interface SourcePolicy {
  /** The real path of `path` when it lies under an allowed root; refuses it otherwise. */
  resolvePath(path: string, field?: string): Promise<string>;
  /** Fetches `url` when its scheme, host and addresses are allowed; refuses it otherwise. */
  fetch(url: string, init?: { signal?: AbortSignal; field?: string }): Promise<Response>;
}

/** Options of {@linkcode ModelStore.pull}. */
export interface PullOptions {
  /** Receives progress as the pull goes. */
  onProgress?: (p: PullProgress) => void;
  /** Cancels the pull. */
  signal?: AbortSignal;
  /**
   * Checks the source when a request chose it: paths only under allowed roots, URLs only to
   * allowed hosts. The command line, run by the user, pulls without one.
   */
  policy?: SourcePolicy;
  /** The request field that named the source, named in errors. */
  field?: string;
}

/** Archive types a pull unpacks. */
const ARCHIVE = /\.(tar\.gz|tgz|tar|zip)$/i;
/** Bytes of download between two progress reports. */
const PROGRESS_EVERY_BYTES = 1 << 20;

/**
 * The file name a download is saved under inside its own temporary folder: chosen by the
 * server, keeping only the archive type the URL's last segment shows, so an encoded `../`
 * in the URL cannot place it anywhere else.
 */
function downloadName(url: URL): string {
  const last = url.pathname.split("/").pop() ?? "";
  let decoded = last;
  try {
    decoded = decodeURIComponent(last);
  } catch {
    // A malformed escape: judge the raw segment.
  }
  const type = ARCHIVE.exec(decoded)?.[1]?.toLowerCase();
  return type ? `download.${type}` : "download";
}

/** True when `inner` is `outer` or a path below it. */
function isWithin(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

async function dirSize(dir: string): Promise<{ size: number; modified: number }> {
  let size = 0;
  let modified = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      const inner = await dirSize(path);
      size += inner.size;
      modified = Math.max(modified, inner.modified);
    } else if (entry.isFile) {
      const info = await Deno.stat(path);
      size += info.size;
      modified = Math.max(modified, info.mtime?.getTime() ?? 0);
    }
  }
  return { size, modified };
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) await copyDir(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

async function digestOf(dir: string, size: number): Promise<string> {
  let config = "";
  try {
    config = await Deno.readTextFile(join(dir, "config.json"));
  } catch {
    // Digest of the size alone.
  }
  const bytes = new TextEncoder().encode(`${config}\n${size}`);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    // The tool's own message names server paths; the caller learns only what failed.
    throw new A3sError("pull_failed", `model: ${cmd} could not unpack the source`, {
      status: 400,
      field: "model",
      cause: new TextDecoder().decode(out.stderr).trim(),
    });
  }
}

/** Unpacks a zip archive in-process, so no `unzip` binary is needed. */
async function unzipInto(archive: string, into: string): Promise<void> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(await Deno.readFile(archive));
  } catch (error) {
    throw new A3sError("pull_failed", "model: the source is not a readable zip archive", {
      status: 400,
      field: "model",
      cause: error,
    });
  }
  for (const [name, data] of Object.entries(entries)) {
    const target = resolve(into, name);
    if (!target.startsWith(resolve(into) + "/")) {
      throw new ValidationError(`model: the archive entry '${name}' escapes its folder`, "model");
    }
    if (name.endsWith("/")) {
      await Deno.mkdir(target, { recursive: true });
      continue;
    }
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.writeFile(target, data);
  }
}

/** Finds the model directory inside an unpacked archive: its root or its only folder. */
async function modelRoot(dir: string): Promise<string> {
  if (await exists(join(dir, "config.json"))) return dir;
  const entries = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  const folders = entries.filter((e) => e.isDirectory);
  if (folders.length === 1) return modelRoot(join(dir, folders[0].name));
  throw new ValidationError("the source holds no model directory (no config.json)", "model");
}

/**
 * The store of models under `root`, plus `builtins` (name to directory).
 *
 * @example
 * ```ts
 * const store = new ModelStore("/tmp/models", { "tiny:latest": "power/testdata/tiny" });
 * console.log((await store.list()).map((m) => m.name));
 * ```
 */
export class ModelStore {
  /** The folder pulled and copied models live in. */
  readonly root: string;
  /** Read-only models by normalized name, to their directories. */
  readonly builtins: Map<string, string>;

  /** A store under `root`, with `builtins` (name to directory) beside it. */
  constructor(root: string, builtins: Record<string, string> = {}) {
    this.root = root;
    this.builtins = new Map(
      Object.entries(builtins).map(([name, dir]) => [normalizeName(name), resolve(dir)]),
    );
  }

  #pathOf(name: string): string {
    const { repo, tag } = nameParts(name);
    return join(this.root, repo, tag);
  }

  /** Registers a read-only model directory under `name`. */
  addBuiltin(name: string, dir: string): void {
    this.builtins.set(normalizeName(name), resolve(dir));
  }

  async #describe(name: string, dir: string, builtin: boolean): Promise<StoredModel> {
    const { size, modified } = await dirSize(dir);
    return {
      name,
      dir,
      builtin,
      modifiedAt: new Date(modified || Date.now()),
      size,
      digest: await digestOf(dir, size),
    };
  }

  /** Every model, builtins first. */
  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    for (const [name, dir] of this.builtins) {
      if (await exists(join(dir, "config.json"))) out.push(await this.#describe(name, dir, true));
    }
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries: Deno.DirEntry[] = [];
      try {
        entries = await Array.fromAsync(Deno.readDir(dir));
      } catch {
        return;
      }
      for (const entry of entries) {
        if (!entry.isDirectory) continue;
        const path = join(dir, entry.name);
        if (await exists(join(path, "config.json"))) {
          const name = `${prefix.slice(0, -1)}:${entry.name}`;
          if (prefix && !this.builtins.has(name)) out.push(await this.#describe(name, path, false));
        } else await walk(path, `${prefix}${entry.name}/`);
      }
    };
    await walk(this.root, "");
    return out;
  }

  /** The model called `name`, or a 404 that says how to get it. */
  async get(name: string): Promise<StoredModel> {
    const normalized = normalizeName(name);
    const builtin = this.builtins.get(normalized);
    if (builtin && await exists(join(builtin, "config.json"))) {
      return this.#describe(normalized, builtin, true);
    }
    const path = this.#pathOf(normalized);
    if (await exists(join(path, "config.json"))) return this.#describe(normalized, path, false);
    throw new NotFoundError(`model '${name}' not found, try pulling it first`, "model");
  }

  /** Reads the manifest of `name`. */
  async manifest(name: string): Promise<ModelManifest> {
    return readModelDir((await this.get(name)).dir);
  }

  /**
   * Copies `source` to a new name. Copying a model onto itself changes nothing; a
   * destination nested inside the source's folder (or around it) is refused.
   */
  async copy(source: string, destination: string): Promise<void> {
    const from = await this.get(source);
    const to = normalizeName(destination, "destination");
    if (to === from.name) return;
    if (this.builtins.has(to)) {
      throw new ValidationError(`destination: '${to}' is a built-in model name`, "destination");
    }
    const target = this.#pathOf(to);
    if (isWithin(from.dir, target) || isWithin(target, from.dir)) {
      throw new ValidationError(
        `destination: '${to}' would be stored inside '${from.name}' (or around it)`,
        "destination",
      );
    }
    // Copy beside the target first, so a failed copy leaves the old destination intact.
    const staging = `${target}.partial`;
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await copyDir(from.dir, staging);
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await Deno.rename(staging, target);
  }

  /** The model `name` if it may be removed; a 400 for a built-in one, a 404 for none. */
  async removable(name: string): Promise<StoredModel> {
    const model = await this.get(name);
    if (model.builtin) {
      throw new A3sError(
        "model_builtin",
        `model '${model.name}' ships with power and cannot be deleted`,
        { status: 400, field: "model" },
      );
    }
    return model;
  }

  /** Removes a stored model, and the folders of its name that it leaves empty. */
  async remove(name: string): Promise<void> {
    const model = await this.removable(name);
    await Deno.remove(model.dir, { recursive: true });
    // `a/b/c:h` lives in `a/b/c/h`: drop `c`, `b` and `a` while they are empty.
    const root = resolve(this.root);
    for (let dir = dirname(model.dir); dir !== root && isWithin(root, dir); dir = dirname(dir)) {
      try {
        await Deno.remove(dir);
      } catch {
        break; // Not empty: another model lives under it.
      }
    }
  }

  /**
   * Copies a model into the store from a local directory, a `.tar`, `.tar.gz`, `.tgz` or
   * `.zip` archive, or an http(s) URL of such an archive, reporting progress as it goes.
   */
  async pull(source: string, name: string, options: PullOptions = {}): Promise<StoredModel> {
    const { policy, signal, field = "model" } = options;
    const onProgress = options.onProgress ?? (() => {});
    const target = normalizeName(name);
    if (this.builtins.has(target)) {
      throw new ValidationError(`model: '${target}' is a built-in model name`, "model");
    }
    onProgress({ status: "pulling manifest" });
    const work = await Deno.makeTempDir({ prefix: "a3s-pull-" });
    try {
      let local = source;
      if (/^https?:\/\//i.test(source)) {
        local = join(work, downloadName(new URL(source)));
        await this.#download(source, local, { onProgress, signal, policy, field });
      } else if (policy) {
        local = await policy.resolvePath(source, field);
      } else if (!(await exists(source))) {
        throw new NotFoundError(`model: source '${source}' does not exist`, "model");
      }
      const info = await Deno.stat(local);
      let dir = local;
      if (info.isFile) {
        const unpacked = join(work, "unpacked");
        await Deno.mkdir(unpacked);
        if (/\.zip$/i.test(local)) await unzipInto(local, unpacked);
        else if (ARCHIVE.test(local)) {
          await run("tar", ["-xf", local, "-C", unpacked]);
        } else {throw new ValidationError(
            "model: source must be a directory, .tar, .tar.gz, .tgz or .zip",
            "model",
          );}
        dir = await modelRoot(unpacked);
      } else {
        dir = await modelRoot(local);
      }
      onProgress({ status: "verifying model" });
      await readModelDir(dir);
      const { size } = await dirSize(dir);
      const digest = `sha256:${await digestOf(dir, size)}`;
      onProgress({ status: `pulling ${digest.slice(7, 19)}`, digest, total: size, completed: 0 });
      const staging = `${this.#pathOf(target)}.partial`;
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      await copyDir(dir, staging);
      onProgress({
        status: `pulling ${digest.slice(7, 19)}`,
        digest,
        total: size,
        completed: size,
      });
      onProgress({ status: "writing manifest" });
      await Deno.remove(this.#pathOf(target), { recursive: true }).catch(() => {});
      await Deno.rename(staging, this.#pathOf(target));
      onProgress({ status: "success" });
      return this.get(target);
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  }

  async #download(
    url: string,
    to: string,
    options: Required<Pick<PullOptions, "onProgress" | "field">> & PullOptions,
  ): Promise<void> {
    const { onProgress, signal, policy, field } = options;
    let response: Response;
    if (policy) response = await policy.fetch(url, { signal, field });
    else {
      try {
        response = await fetch(url, { signal });
      } catch (error) {
        throw new A3sError("pull_failed", `cannot fetch ${url}: ${(error as Error).message}`, {
          status: 400,
          field,
        });
      }
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new A3sError("pull_failed", `fetching ${url} answered ${response.status}`, {
        status: 400,
        field,
      });
    }
    const total = Number(response.headers.get("content-length") ?? 0) || undefined;
    const digest = `download:${url}`;
    const file = await Deno.open(to, { write: true, create: true, truncate: true });
    let completed = 0;
    let lastReport = 0;
    try {
      for await (const chunk of response.body) {
        await file.write(chunk);
        completed += chunk.length;
        if (completed - lastReport > PROGRESS_EVERY_BYTES || completed === total) {
          lastReport = completed;
          onProgress({ status: "downloading", digest, total, completed });
        }
      }
    } finally {
      file.close();
    }
    onProgress({ status: "downloading", digest, total: total ?? completed, completed });
  }
}
