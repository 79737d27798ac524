/**
 * `box build`: runs a Dockerfile against the image store. Each stage starts from an image, a
 * scratch root or an earlier stage; `RUN` executes in a real box (the namespace driver) and
 * its overlay upper dir becomes the layer; `COPY`/`ADD` make layers from the context or another
 * stage; the rest edit the config. Layers are cached by a key chained from the base image id
 * through every instruction and its inputs (file contents for copies, the command, build args
 * and environment for runs), so an unchanged prefix is never rebuilt. The result is an OCI
 * manifest with gzip layers, ready for `box push`.
 */
import { join } from "node:path";
import { A3sError, AccessPolicy, NotFoundError, ValidationError } from "@a3s/common";
import type { BoxManager } from "../manager.ts";
import type { ImageStore } from "../image/store.ts";
import {
  digestOf,
  type HistoryEntry,
  type ImageConfig,
  type LayerDescriptor,
  MEDIA,
} from "../image/oci.ts";
import { gzip, type TarInput, writeTar } from "../image/tar.ts";
import { writeImage } from "./write_image.ts";
import { RegistryClient } from "../image/registry.ts";
import {
  dockerfileError,
  type Instruction,
  parseDockerfile,
  parseInstruction,
  parsePairs,
  splitWords,
  substitute,
} from "./dockerfile.ts";
import { DockerIgnore } from "./dockerignore.ts";
import { collectCopy, isUrlSource } from "./copy_sources.ts";
import { fetchAddUrl } from "./add_url.ts";
import { parseHealthcheck } from "./healthcheck.ts";
import { upperToLayer } from "./layer_diff.ts";
import { absoluteIn, resolveInRoot } from "./rootfs_path.ts";

/** What a build takes; only the context is required. */
export interface BuildOptions {
  /** The build context directory. */
  contextDir: string;
  /** The Dockerfile's path (default `<context>/Dockerfile`). */
  dockerfile?: string;
  /** The Dockerfile's text, instead of a path. */
  dockerfileText?: string;
  /** `name:tag` references to point at the built image. */
  tags?: readonly string[];
  /** Values for the Dockerfile's `ARG`s (`--build-arg`). */
  buildArgs?: Record<string, string>;
  /** Build up to this stage instead of the last. */
  target?: string;
  /** Ignore cached layers (new layers are still cached). */
  noCache?: boolean;
  /** The driver `RUN` steps use (default: the namespace driver, which keeps a diffable layer). */
  driver?: string;
  /** `none` (default) or `host` for `RUN` steps. */
  network?: "none" | "host";
  /** Seconds a single `RUN` may take (default 600). */
  runTimeoutSeconds?: number;
  /** Progress lines (`Step 2/7 : RUN ...`). */
  log?: (line: string) => void;
  /** Output of `RUN` steps. */
  output?: (chunk: Uint8Array, stream: "stdout" | "stderr") => void;
  /**
   * Where `ADD <url>` may fetch from: the shared access policy. Without one, only public
   * http(s) hosts (no loopback, private or metadata addresses).
   */
  policy?: AccessPolicy;
}

/** One executed instruction. */
export interface BuildStep {
  /** The Dockerfile line the instruction starts on, 1-based. */
  line: number;
  /** The instruction as run: its name, flags and arguments. */
  instruction: string;
  /** Whether its layer came from the cache (config-only steps are never "cached"). */
  cached: boolean;
  /** The layer it added, if any. */
  layer?: string;
}

/** What a build produced. */
export interface BuildResult {
  /** The built image's id (its manifest digest). */
  imageId: string;
  /** The references now pointing at the image. */
  tags: string[];
  /** The instructions of the built stages, in the order they ran. */
  steps: BuildStep[];
}

interface Stage {
  name?: string;
  layers: LayerDescriptor[];
  config: ImageConfig;
  history: HistoryEntry[];
  /** The cache key chain up to here. */
  key: string;
  args: Record<string, string>;
  shell: string[];
  /** Workdirs already known to exist in this stage's rootfs. */
  workdirs: Set<string>;
  /** Whether this stage set CMD (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

const encoder = new TextEncoder();
/** Intermediate images get a fixed time, so the same state is the same image (and rootfs). */
const EPOCH = "1970-01-01T00:00:00Z";

async function hashText(...parts: string[]): Promise<string> {
  return (await digestOf(encoder.encode(parts.join("\0")))).slice(7);
}

function envMap(config: ImageConfig): Record<string, string> {
  return Object.fromEntries(
    (config.config?.Env ?? []).map((
      e,
    ) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
}

function describe(step: Instruction): string {
  const flags = Object.entries(step.flags).map(([k, v]) => `--${k}=${v} `).join("");
  return `${step.name} ${flags}${step.raw}`.trim();
}

async function contentKey(entries: readonly TarInput[]): Promise<string> {
  const lines: string[] = [];
  for (const e of entries) {
    const data = e.data ? await digestOf(e.data) : "";
    lines.push(
      [e.path, e.type, e.mode ?? "", e.uid ?? 0, e.gid ?? 0, e.linkname ?? "", data].join(" "),
    );
  }
  return await hashText(...lines);
}

function parseOwner(value: string | undefined, step: Instruction) {
  if (value === undefined) return undefined;
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) throw dockerfileError(step.line, `--chown needs numeric uid[:gid], got '${value}'`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

function parseMode(value: string | undefined, step: Instruction) {
  if (value === undefined) return undefined;
  if (!/^[0-7]{3,4}$/.test(value)) {
    throw dockerfileError(step.line, `--chmod needs an octal mode, got '${value}'`);
  }
  return parseInt(value, 8);
}

/**
 * Builds images from Dockerfiles.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { ImageBuilder, openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * const result = await new ImageBuilder(boxes).build({ contextDir: ".", tags: ["app:1"] });
 * console.log(result.imageId);
 * ```
 */
export class ImageBuilder {
  readonly #boxes: BoxManager;
  readonly #images: ImageStore;

  /** A builder that runs `RUN` steps as boxes of `boxes` and stores images in its image store. */
  constructor(boxes: BoxManager) {
    this.#boxes = boxes;
    this.#images = boxes.images;
  }

  #cachePath(key: string): string {
    return join(this.#images.dir, "build-cache", `${key}.json`);
  }

  async #cached(key: string): Promise<LayerDescriptor | undefined> {
    try {
      const layer = JSON.parse(await Deno.readTextFile(this.#cachePath(key))) as LayerDescriptor;
      return await this.#images.hasBlob(layer.digest) ? layer : undefined;
    } catch {
      return undefined;
    }
  }

  async #storeLayer(key: string, entries: readonly TarInput[]): Promise<LayerDescriptor> {
    const tar = writeTar(entries);
    const compressed = await gzip(tar);
    const layer: LayerDescriptor = {
      mediaType: MEDIA.ociLayerGzip,
      digest: await this.#images.putBlob(compressed),
      size: compressed.length,
      diffId: await digestOf(tar),
    };
    await Deno.mkdir(join(this.#images.dir, "build-cache"), { recursive: true });
    await Deno.writeTextFile(this.#cachePath(key), JSON.stringify(layer));
    return layer;
  }

  /** Records the stage's current state as an image; returns its id. */
  #materialize(stage: Stage, created: string, tags: readonly string[]): Promise<string> {
    return writeImage(this.#images, stage, created, tags);
  }

  async #rootfsOf(stage: Stage, intermediates: Set<string>): Promise<string> {
    const id = await this.#materialize(stage, EPOCH, []);
    intermediates.add(id);
    return await this.#images.rootfs(id);
  }

  async #addLayer(
    stage: Stage,
    step: Instruction,
    key: string,
    make: () => Promise<TarInput[]>,
    noCache: boolean,
  ): Promise<BuildStep> {
    const hit = noCache ? undefined : await this.#cached(key);
    const layer = hit ?? await this.#storeLayer(key, await make());
    stage.layers.push(layer);
    stage.history.push({ created: new Date().toISOString(), created_by: describe(step) });
    stage.key = key;
    return { line: step.line, instruction: describe(step), cached: !!hit, layer: layer.digest };
  }

  /** Gives the stage its WORKDIR as a real directory (Docker creates it), as a small layer. */
  async #ensureWorkdir(stage: Stage, intermediates: Set<string>): Promise<void> {
    const workdir = stage.config.config?.WorkingDir;
    if (!workdir || workdir === "/" || stage.workdirs.has(workdir)) return;
    const root = await this.#rootfsOf(stage, intermediates);
    const entries: TarInput[] = [];
    const parts = workdir.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      if (!(await resolveInRoot(root, path))) entries.push({ path, type: "dir", mode: 0o755 });
    }
    stage.workdirs.add(workdir);
    if (entries.length === 0) return;
    const key = await hashText(stage.key, "WORKDIR", workdir);
    const layer = await this.#cached(key) ?? await this.#storeLayer(key, entries);
    stage.layers.push(layer);
    stage.history.push({ created: new Date().toISOString(), created_by: `WORKDIR ${workdir}` });
    stage.key = key;
  }

  async #fromImage(ref: string, step: Instruction): Promise<Stage> {
    if (ref === "scratch") {
      return {
        layers: [],
        config: { config: {} },
        history: [],
        key: "scratch",
        args: {},
        shell: ["/bin/sh", "-c"],
        workdirs: new Set(),
        cmdSet: false,
      };
    }
    let row;
    try {
      row = await this.#images.resolve(ref, "dockerfile");
    } catch (error) {
      if (!(error instanceof NotFoundError)) {
        throw dockerfileError(step.line, (error as Error).message);
      }
      try {
        await new RegistryClient(this.#images).pull(ref);
      } catch (pullError) {
        throw dockerfileError(
          step.line,
          `base image '${ref}' is not here and could not be pulled: ${
            (pullError as Error).message
          }`,
        );
      }
      row = await this.#images.resolve(ref, "dockerfile");
    }
    const config = JSON.parse(row.config) as ImageConfig;
    return {
      layers: JSON.parse(row.layers) as LayerDescriptor[],
      config: { config: { ...config.config } },
      history: config.history ?? [],
      key: row.id,
      args: {},
      shell: ["/bin/sh", "-c"],
      workdirs: new Set(),
      cmdSet: false,
    };
  }

  async #run(
    stage: Stage,
    step: Instruction,
    options: BuildOptions,
    intermediates: Set<string>,
  ): Promise<BuildStep> {
    const command = step.json ?? [...stage.shell, step.raw];
    if (command.length === 0 || (step.json === undefined && step.raw === "")) {
      throw dockerfileError(step.line, "RUN needs a command");
    }
    await this.#ensureWorkdir(stage, intermediates);
    const key = await hashText(
      stage.key,
      "RUN",
      JSON.stringify(command),
      JSON.stringify(stage.args),
    );
    return await this.#addLayer(stage, step, key, async () => {
      const image = await this.#materialize(stage, EPOCH, []);
      intermediates.add(image);
      // Attached: the step's output as it is written, and its end as soon as the box's is.
      const { info, output } = await this.#boxes.run({
        image,
        command,
        // Build args are in RUN's environment but never in the image's.
        env: { ...stage.args, ...envMap(stage.config) },
        driver: options.driver ?? "namespace",
        network: options.network ?? "none",
        timeoutSeconds: options.runTimeoutSeconds ?? 600,
      }, { attach: true });
      try {
        for await (const chunk of output ?? this.#boxes.logs(info.id, { follow: true })) {
          options.output?.(chunk.data, chunk.stream);
        }
        const done = await this.#boxes.wait(info.id);
        if (done.exitCode !== 0) {
          throw new A3sError(
            "build_failed",
            `Dockerfile line ${step.line}: '${describe(step)}' returned exit code ${done.exitCode}${
              done.reason && done.reason !== "exited" ? ` (${done.reason})` : ""
            }`,
            { status: 422, field: "dockerfile" },
          );
        }
        return await upperToLayer(await this.#boxes.writableLayer(info.id));
      } finally {
        await this.#boxes.remove(info.id, true).catch(() => {});
      }
    }, options.noCache === true);
  }

  async #copy(
    stage: Stage,
    step: Instruction,
    options: BuildOptions,
    stages: Stage[],
    vars: Record<string, string>,
    ignore: DockerIgnore,
    intermediates: Set<string>,
  ): Promise<BuildStep> {
    const words = step.json ?? splitWords(substitute(step.raw, vars, step.line), step.line);
    if (words.length < 2) {
      throw dockerfileError(step.line, `${step.name} needs at least one source and a destination`);
    }
    const from = step.flags.from === undefined
      ? undefined
      : substitute(step.flags.from, vars, step.line);
    let root = options.contextDir;
    if (from !== undefined) {
      const named = stages.find((s) => s.name === from.toLowerCase()) ??
        (/^\d+$/.test(from) ? stages[Number(from)] : undefined);
      if (step.name === "ADD") throw dockerfileError(step.line, "ADD does not take --from");
      const source = named ?? await this.#fromImage(from, step);
      root = await this.#rootfsOf(source, intermediates);
    }
    const workdir = stage.config.config?.WorkingDir || "/";
    const rawDest = words.at(-1)!;
    const absolute = absoluteIn(workdir, rawDest);
    // Docker copies into a directory for a trailing '/', for '.' and for the WORKDIR itself.
    const intoDir = rawDest.endsWith("/") || /(^|\/)\.{1,2}$/.test(rawDest) ||
      (absolute === workdir && absolute !== "/") || absolute === "/";
    const dest = absolute === "/" ? "/" : absolute + (intoDir ? "/" : "");
    const sources = words.slice(0, -1);
    const owner = parseOwner(step.flags.chown, step);
    const mode = parseMode(step.flags.chmod, step);
    const urls = step.name === "ADD" ? sources.filter(isUrlSource) : [];
    const local = sources.filter((source) => !urls.includes(source));
    const entries = local.length === 0 ? [] : await collectCopy({
      root,
      ignore: from === undefined ? ignore : undefined,
      sources: local,
      dest,
      owner,
      mode,
      unpackArchives: step.name === "ADD",
      line: step.line,
      instruction: step.name,
      intoDirectory: sources.length > 1,
    });
    for (const url of urls) {
      entries.push(
        await fetchAddUrl(url, {
          dest,
          intoDirectory: dest.endsWith("/") || sources.length > 1,
          policy: options.policy ?? new AccessPolicy(),
          owner,
          mode,
          line: step.line,
        }),
      );
    }
    const key = await hashText(stage.key, describe(step), dest, await contentKey(entries));
    return await this.#addLayer(stage, step, key, () => Promise.resolve(entries), false);
  }

  /** Applies a config-only instruction. */
  #configure(stage: Stage, step: Instruction, vars: Record<string, string>): void {
    const config = stage.config.config ??= {};
    const text = () => substitute(step.raw, vars, step.line);
    const execForm = () => step.json ?? [...stage.shell, step.raw];
    switch (step.name) {
      case "ENV": {
        const env = envMap(stage.config);
        for (const [key, value] of parsePairs(step.raw, step.line, true)) {
          env[key] = substitute(value, { ...vars, ...env }, step.line);
        }
        config.Env = Object.entries(env).map(([k, v]) => `${k}=${v}`);
        break;
      }
      case "LABEL":
        config.Labels = { ...config.Labels };
        for (const [key, value] of parsePairs(text(), step.line, true)) config.Labels[key] = value;
        break;
      case "WORKDIR":
        config.WorkingDir = absoluteIn(config.WorkingDir || "/", text());
        break;
      case "USER":
        config.User = text();
        break;
      case "EXPOSE":
        config.ExposedPorts = { ...config.ExposedPorts };
        for (const port of splitWords(text(), step.line)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) {
            throw dockerfileError(step.line, `invalid port '${port}'`);
          }
          config.ExposedPorts[port.includes("/") ? port : `${port}/tcp`] = {};
        }
        break;
      case "CMD":
        config.Cmd = execForm();
        stage.cmdSet = true;
        break;
      case "ENTRYPOINT":
        config.Entrypoint = execForm();
        // Docker: a new ENTRYPOINT drops the CMD inherited from the base image.
        if (!stage.cmdSet) delete config.Cmd;
        break;
      case "VOLUME": {
        config.Volumes = { ...config.Volumes };
        for (const volume of step.json ?? splitWords(text(), step.line)) {
          config.Volumes[volume] = {};
        }
        break;
      }
      case "STOPSIGNAL":
        config.StopSignal = text();
        break;
      case "SHELL":
        if (!step.json?.length) throw dockerfileError(step.line, "SHELL needs a JSON array");
        stage.shell = step.json;
        break;
      case "MAINTAINER":
        config.Labels = { ...config.Labels, maintainer: text() };
        break;
      case "HEALTHCHECK":
        config.Healthcheck = parseHealthcheck(step);
        break;
      case "ONBUILD":
        // Kept verbatim, as Docker does; they run when a build starts FROM this image.
        config.OnBuild = [...(config.OnBuild ?? []), step.raw];
        break;
      default:
        throw dockerfileError(step.line, `${step.name} cannot appear here`);
    }
    stage.history.push({
      created: new Date().toISOString(),
      created_by: describe(step),
      empty_layer: true,
    });
  }

  /** Runs the build; resolves with the final image. */
  async build(options: BuildOptions): Promise<BuildResult> {
    const dockerfilePath = options.dockerfile ?? join(options.contextDir, "Dockerfile");
    let text = options.dockerfileText;
    if (text === undefined) {
      try {
        text = await Deno.readTextFile(dockerfilePath);
      } catch {
        throw new ValidationError(`cannot read Dockerfile '${dockerfilePath}'`, "dockerfile");
      }
    }
    try {
      if (!(await Deno.stat(options.contextDir)).isDirectory) throw new Error();
    } catch {
      throw new ValidationError(
        `build context '${options.contextDir}' is not a directory`,
        "context",
      );
    }
    const instructions = parseDockerfile(text);
    const ignore = await DockerIgnore.load(options.contextDir);
    const buildArgs = options.buildArgs ?? {};
    const globalArgs: Record<string, string> = {};
    const stages: Stage[] = [];
    const steps: BuildStep[] = [];
    const intermediates = new Set<string>();
    let stage: Stage | undefined;
    const targetName = options.target?.toLowerCase();
    const execute = async (stage: Stage, step: Instruction): Promise<BuildStep> => {
      const vars = { ...stage.args, ...envMap(stage.config) };
      if (step.name === "RUN") return await this.#run(stage, step, options, intermediates);
      if (step.name === "COPY" || step.name === "ADD") {
        return await this.#copy(stage, step, options, stages, vars, ignore, intermediates);
      }
      this.#configure(stage, step, vars);
      stage.key = await hashText(stage.key, describe(step));
      return { line: step.line, instruction: describe(step), cached: false };
    };
    try {
      for (const [i, step] of instructions.entries()) {
        options.log?.(`Step ${i + 1}/${instructions.length} : ${describe(step)}`);
        if (step.name === "ARG") {
          const scope = stage ? stage.args : globalArgs;
          for (const word of splitWords(step.raw, step.line)) {
            const eq = word.indexOf("=");
            const name = eq === -1 ? word : word.slice(0, eq);
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
              throw dockerfileError(step.line, `invalid ARG name '${name}'`);
            }
            const fallback = eq === -1
              ? (stage ? globalArgs[name] : undefined)
              : substitute(word.slice(eq + 1), { ...globalArgs, ...scope }, step.line);
            const value = buildArgs[name] ?? fallback;
            if (value !== undefined) scope[name] = value;
          }
          if (stage) stage.key = await hashText(stage.key, "ARG", JSON.stringify(stage.args));
          steps.push({ line: step.line, instruction: describe(step), cached: false });
          continue;
        }
        if (step.name === "FROM") {
          if (stage && targetName && stage.name === targetName) break;
          const words = splitWords(substitute(step.raw, globalArgs, step.line), step.line);
          if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === "as")) {
            throw dockerfileError(step.line, "FROM takes IMAGE [AS NAME]");
          }
          const base = words[0].toLowerCase();
          const earlier = stages.find((s) => s.name === base);
          stage = earlier
            ? {
              ...earlier,
              layers: [...earlier.layers],
              config: structuredClone(earlier.config),
              history: [...earlier.history],
              workdirs: new Set(earlier.workdirs),
              args: {},
              cmdSet: false,
            }
            : await this.#fromImage(words[0], step);
          stage.name = words[2]?.toLowerCase();
          stages.push(stage);
          steps.push({ line: step.line, instruction: describe(step), cached: false });
          // A base image's ONBUILD triggers run first, as if written right after FROM; they are
          // consumed here, not passed on to this image.
          const triggers = earlier ? [] : stage.config.config?.OnBuild ?? [];
          if (stage.config.config) delete stage.config.config.OnBuild;
          for (const trigger of triggers) {
            const parsed = parseInstruction(trigger, step.line);
            if (!parsed) continue;
            options.log?.(` # Executing ONBUILD trigger: ${trigger}`);
            steps.push(await execute(stage, parsed));
          }
          continue;
        }
        if (!stage) throw dockerfileError(step.line, "instruction before FROM");
        steps.push(await execute(stage, step));
      }
      const final = targetName ? stages.find((s) => s.name === targetName) : stage;
      if (!final) throw new ValidationError(`no build stage named '${options.target}'`, "target");
      await this.#ensureWorkdir(final, intermediates);
      const tags = [...(options.tags ?? [])];
      const imageId = await this.#materialize(final, new Date().toISOString(), tags);
      intermediates.delete(imageId);
      options.log?.(`Successfully built ${imageId.slice(7, 19)}`);
      return { imageId, tags, steps };
    } finally {
      // Intermediate images are bookkeeping, not results: drop their records (their blobs and
      // rootfs stay for the cache until `system prune`).
      for (const id of intermediates) {
        await this.#images.remove(id, () => Promise.resolve(false), true).catch(() => {});
      }
    }
  }
}
