/**
 * The model store: `<home>/models/<name>/<tag>/` holds one model directory each, beside the
 * read-only models that ship with power or that the config names.
 */
import { dirname, join, resolve } from "node:path";
import { unzipSync } from "fflate";
import { A3sError, NotFoundError, ValidationError } from "@a3s/common";
import { type ModelManifest, readModelDir } from "../engine/model_dir.ts";
import { nameParts, normalizeName } from "./names.ts";

/** One model the store knows. */
export interface StoredModel {
  name: string;
  dir: string;
  /** Shipped or configured models cannot be removed. */
  builtin: boolean;
  modifiedAt: Date;
  size: number;
  digest: string;
}

/** Where a pull stands, in Ollama's progress shape. */
export interface PullProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
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
    throw new A3sError(
      "pull_failed",
      `${cmd} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
      {
        status: 400,
      },
    );
  }
}

/** Unpacks a zip archive in-process, so no `unzip` binary is needed. */
async function unzipInto(archive: string, into: string): Promise<void> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(await Deno.readFile(archive));
  } catch (error) {
    throw new A3sError(
      "pull_failed",
      `${archive} is not a readable zip: ${(error as Error).message}`,
      {
        status: 400,
        field: "model",
      },
    );
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
  readonly root: string;
  readonly builtins: Map<string, string>;

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

  /** Copies `source` to a new name. */
  async copy(source: string, destination: string): Promise<void> {
    const from = await this.get(source);
    const to = normalizeName(destination, "destination");
    if (this.builtins.has(to)) {
      throw new ValidationError(`destination: '${to}' is a built-in model name`, "destination");
    }
    const target = this.#pathOf(to);
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await copyDir(from.dir, target);
  }

  /** Removes a stored model. */
  async remove(name: string): Promise<void> {
    const model = await this.get(name);
    if (model.builtin) {
      throw new A3sError(
        "model_builtin",
        `model '${model.name}' ships with power and cannot be deleted`,
        {
          status: 400,
          field: "model",
        },
      );
    }
    await Deno.remove(model.dir, { recursive: true });
    // Drop the repo folder once its last tag is gone.
    await Deno.remove(dirname(model.dir)).catch(() => {});
  }

  /**
   * Copies a model into the store from a local directory, a `.tar`, `.tar.gz`, `.tgz` or
   * `.zip` archive, or an http(s) URL of such an archive, reporting progress as it goes.
   */
  async pull(
    source: string,
    name: string,
    onProgress: (p: PullProgress) => void = () => {},
    signal?: AbortSignal,
  ): Promise<StoredModel> {
    const target = normalizeName(name);
    if (this.builtins.has(target)) {
      throw new ValidationError(`model: '${target}' is a built-in model name`, "model");
    }
    onProgress({ status: "pulling manifest" });
    const work = await Deno.makeTempDir({ prefix: "a3s-pull-" });
    try {
      let local = source;
      if (/^https?:\/\//.test(source)) {
        local = join(
          work,
          decodeURIComponent(new URL(source).pathname.split("/").pop() || "model"),
        );
        await this.#download(source, local, onProgress, signal);
      } else if (!(await exists(source))) {
        throw new NotFoundError(`model: source '${source}' does not exist`, "model");
      }
      const info = await Deno.stat(local);
      let dir = local;
      if (info.isFile) {
        const unpacked = join(work, "unpacked");
        await Deno.mkdir(unpacked);
        if (/\.zip$/i.test(local)) await unzipInto(local, unpacked);
        else if (/\.(tar|tar\.gz|tgz)$/i.test(local)) {
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
    onProgress: (p: PullProgress) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (error) {
      throw new A3sError("pull_failed", `cannot fetch ${url}: ${(error as Error).message}`, {
        status: 400,
        field: "model",
      });
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new A3sError("pull_failed", `fetching ${url} answered ${response.status}`, {
        status: 400,
        field: "model",
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
        if (completed - lastReport > 1 << 20 || completed === total) {
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
