/**
 * The OCI image store: content-addressed blobs on disk (`blobs/sha256/<hex>`, verified on the
 * way in), images and tags in the shared store, and one unpacked rootfs per image built on
 * first use. `load` and `save` speak docker-archive and OCI-layout tarballs.
 */
import { join } from "node:path";
import { A3sError, NotFoundError, type Store, ValidationError } from "@a3s/common";
import type { CompiledQuery, Kysely } from "kysely";
import { BOX_MIGRATIONS, type BoxTables, type ImageRow } from "../schema.ts";
import { extractLayer } from "./extract.ts";
import {
  type Descriptor,
  digestOf,
  hostPlatform,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type LayerDescriptor,
  MEDIA,
} from "./oci.ts";
import { formatReference, parseReference } from "./reference.ts";
import {
  archiveError,
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  ImageIndexSchema,
  ImageManifestSchema,
  ManifestOrIndexSchema,
  parseImageJson,
} from "./image_json.ts";
import { preparedQuery } from "../_prepared.ts";
import { TagCache } from "./tag_cache.ts";
import { gzip, maybeGunzip, readTar, type TarInput, writeTar } from "./tar.ts";
import { exists, existsSync } from "../_exists.ts";

/** An image as `box images` lists it. */
export interface ImageSummary {
  /** The image id: the digest of its manifest. */
  id: string;
  /** The `name:tag` references pointing at the image, sorted. */
  repoTags: string[];
  /** The compressed size of the image's layers, in bytes. */
  size: number;
  /** When the image was created, in milliseconds since the epoch. */
  created: number;
  /** How many layers the image has. */
  layers: number;
  /** The image config: its default command, environment, user and history. */
  config: ImageConfig;
}

const encoder = new TextEncoder();
/** How many references' canonical tags an image store keeps (a handful in practice). */
const CANONICAL_TAGS_KEPT = 256;

function hex(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new A3sError("bad_digest", `unsupported digest '${digest}'`, { status: 400 });
  }
  return digest.slice(7);
}

/**
 * Images on disk and in the shared store.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { ImageStore } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const images = await ImageStore.open(store, await Deno.makeTempDir());
 * console.log(await images.list());
 * ```
 */
export class ImageStore {
  /** The directory holding the blobs and the unpacked rootfs directories. */
  readonly dir: string;
  readonly #db: Kysely<BoxTables>;
  /** The image a tag names, in one query: this lookup is on every box's start path. */
  readonly #imageByTag: (ref: string) => CompiledQuery<ImageRow>;
  readonly #building = new Map<string, Promise<string>>();
  /** What tags named when last looked up, checked against other processes' writes. */
  readonly #tags: TagCache;
  /**
   * The canonical tag each reference resolved by tag was written as (`busybox` is
   * `docker.io/library/busybox:latest`): a pure function of the text, kept so a box's start
   * skips parsing it again. What the tag names is still the tag cache's to say.
   */
  readonly #canonicalTags = new Map<string, string>();

  private constructor(store: Store, dir: string) {
    this.dir = dir;
    this.#tags = new TagCache(store);
    this.#db = store.db<BoxTables>();
    this.#imageByTag = preparedQuery(() =>
      this.#db.selectFrom("box_tags")
        .innerJoin("box_images", "box_images.id", "box_tags.image_id")
        .selectAll("box_images")
        .where("box_tags.ref", "=", "").compile()
    );
  }

  /** Opens the store under `dir`, applying box's migrations. */
  static async open(store: Store, dir: string): Promise<ImageStore> {
    await store.migrate("box", BOX_MIGRATIONS);
    await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    await Deno.mkdir(join(dir, "rootfs"), { recursive: true });
    return new ImageStore(store, dir);
  }

  /** The file a blob with this `sha256:` digest is stored in; throws on another digest form. */
  blobPath(digest: string): string {
    return join(this.dir, "blobs", "sha256", hex(digest));
  }

  /** Whether the blob with this digest is stored. */
  hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest), { noFollow: true });
  }

  /** Stores bytes under their digest; a given `expected` digest must match. */
  async putBlob(data: Uint8Array, expected?: string): Promise<string> {
    const digest = await digestOf(data);
    if (expected && expected !== digest) {
      throw new A3sError(
        "digest_mismatch",
        `content digest ${digest} does not match the expected ${expected}`,
        { status: 502 },
      );
    }
    const path = this.blobPath(digest);
    if (!(await exists(path, { noFollow: true }))) {
      const temp = `${path}.${crypto.randomUUID()}.tmp`;
      await Deno.writeFile(temp, data);
      await Deno.rename(temp, path);
    }
    return digest;
  }

  /** A stored blob's bytes; throws NotFoundError when it is missing. */
  async getBlob(digest: string): Promise<Uint8Array> {
    try {
      return await Deno.readFile(this.blobPath(digest));
    } catch {
      throw new NotFoundError(`blob ${digest} is missing`);
    }
  }

  /** Records an image whose manifest, config and layers are stored; tags point at it. */
  async addImage(manifestBytes: Uint8Array, tags: readonly string[]): Promise<string> {
    const id = await this.putBlob(manifestBytes);
    // Pulls check what a registry sent before this; an archive's content is checked here.
    const manifest = parseImageJson(
      ImageManifestSchema,
      manifestBytes,
      "image manifest",
      archiveError,
    );
    const config = parseImageJson(
      ImageConfigSchema,
      await this.getBlob(manifest.config.digest),
      "image config",
      archiveError,
    );
    const diffIds = config.rootfs?.diff_ids ?? [];
    const layers: LayerDescriptor[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      if (!(await this.hasBlob(layer.digest))) {
        throw new NotFoundError(`layer ${layer.digest} is missing`);
      }
      layers.push({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.size,
        diffId: diffIds[i],
      });
    }
    const size = layers.reduce((n, l) => n + l.size, 0);
    const row: ImageRow = {
      id,
      config_digest: manifest.config.digest,
      config: JSON.stringify(config),
      layers: JSON.stringify(layers),
      size,
      created_at: config.created ? Date.parse(config.created) || Date.now() : Date.now(),
    };
    await this.#db.insertInto("box_images").values(row)
      .onConflict((oc) => oc.column("id").doNothing()).execute();
    this.#tags.changed();
    for (const tag of tags) await this.#setTag(tag, id);
    return id;
  }

  async #setTag(ref: string, id: string): Promise<void> {
    const canonical = formatReference(parseReference(ref));
    await this.#db.insertInto("box_tags").values({ ref: canonical, image_id: id })
      .onConflict((oc) => oc.column("ref").doUpdateSet({ image_id: id })).execute();
    this.#tags.changed();
  }

  /** Builds and records an image from uncompressed layer tars and a config. */
  async createImage(
    layerTars: readonly Uint8Array[],
    config: ImageConfig,
    tags: readonly string[],
  ): Promise<string> {
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (const tar of layerTars) {
      diffIds.push(await digestOf(tar));
      const compressed = await gzip(tar);
      layers.push({
        mediaType: MEDIA.ociLayerGzip,
        digest: await this.putBlob(compressed),
        size: compressed.length,
      });
    }
    const fullConfig: ImageConfig = {
      ...hostPlatform(),
      created: new Date().toISOString(),
      ...config,
      rootfs: { type: "layers", diff_ids: diffIds },
    };
    const configBytes = encoder.encode(JSON.stringify(fullConfig));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: {
        mediaType: MEDIA.ociConfig,
        digest: await this.putBlob(configBytes),
        size: configBytes.length,
      },
      layers,
    };
    return await this.addImage(encoder.encode(JSON.stringify(manifest)), tags);
  }

  /** Finds an image by `name[:tag]`, `name@digest`, full id or unique id prefix. */
  async resolve(ref: string, field = "image"): Promise<ImageRow> {
    const known = this.#canonicalTags.get(ref);
    if (known !== undefined) {
      const cached = this.#tags.get(known);
      if (cached.row) return cached.row;
    }
    const byId = ref.startsWith("sha256:")
      ? ref
      : /^[a-f0-9]{6,64}$/.test(ref)
      ? `sha256:${ref}`
      : undefined;
    if (byId) {
      const rows = await this.#db.selectFrom("box_images").selectAll()
        .where("id", "like", `${byId}%`).limit(2).execute();
      if (rows.length === 1) return rows[0];
      if (rows.length > 1) throw new ValidationError(`image id '${ref}' is ambiguous`, field);
    }
    let parsed;
    try {
      parsed = parseReference(ref, field);
    } catch (error) {
      if (byId) throw new NotFoundError(`no such image: ${ref}`, field);
      throw error;
    }
    if (parsed.digest) {
      const row = await this.#db.selectFrom("box_images").selectAll()
        .where("id", "=", parsed.digest).executeTakeFirst();
      if (row) return row;
    } else {
      const tag = formatReference(parsed);
      // Only a reference that is not an id's prefix (those are looked up by id first).
      if (!byId) {
        if (this.#canonicalTags.size >= CANONICAL_TAGS_KEPT) this.#canonicalTags.clear();
        this.#canonicalTags.set(ref, tag);
      }
      const cached = this.#tags.get(tag);
      if (cached.row) return cached.row;
      const [row] = (await this.#db.executeQuery(this.#imageByTag(tag))).rows;
      if (row) {
        this.#tags.set(tag, row, cached.stamp);
        return row;
      }
    }
    throw new NotFoundError(`no such image: ${ref}`, field);
  }

  async #tagsOf(id: string): Promise<string[]> {
    const rows = await this.#db.selectFrom("box_tags").select("ref").where("image_id", "=", id)
      .orderBy("ref").execute();
    return rows.map((r) => r.ref);
  }

  #summary(row: ImageRow, tags: string[]): ImageSummary {
    return {
      id: row.id,
      repoTags: tags,
      size: Number(row.size),
      created: Number(row.created_at),
      layers: (JSON.parse(row.layers) as LayerDescriptor[]).length,
      config: JSON.parse(row.config) as ImageConfig,
    };
  }

  /** Every image in the store, newest first. */
  async list(): Promise<ImageSummary[]> {
    const rows = await this.#db.selectFrom("box_images").selectAll().orderBy("created_at", "desc")
      .execute();
    const tags = await this.#db.selectFrom("box_tags").selectAll().execute();
    return rows.map((row) =>
      this.#summary(row, tags.filter((t) => t.image_id === row.id).map((t) => t.ref).sort())
    );
  }

  /** The image a reference or id names, as `box image inspect` shows it. */
  async inspect(ref: string): Promise<ImageSummary> {
    const row = await this.resolve(ref);
    return this.#summary(row, await this.#tagsOf(row.id));
  }

  /** Points `target` at the image `source` names. */
  async tag(source: string, target: string): Promise<void> {
    const row = await this.resolve(source, "source");
    parseReference(target, "target");
    await this.#setTag(target, row.id);
  }

  /**
   * Removes a tag, and the image when no tag is left. `inUse` says whether a box still uses
   * the image; such an image keeps its data unless `force`.
   */
  async remove(
    ref: string,
    inUse: (imageId: string) => Promise<boolean>,
    force = false,
  ): Promise<{ untagged: string[]; deleted: string[] }> {
    const row = await this.resolve(ref);
    const tags = await this.#tagsOf(row.id);
    const refIsTag = !/^(sha256:)?[a-f0-9]{6,64}$/.test(ref) && !ref.includes("@");
    const untag = refIsTag ? [formatReference(parseReference(ref))] : tags;
    if (!refIsTag && tags.length > 1 && !force) {
      throw new A3sError(
        "image_in_use",
        `image ${row.id.slice(7, 19)} is referenced in multiple repositories; use -f or a tag`,
        { status: 409 },
      );
    }
    const remaining = tags.filter((t) => !untag.includes(t));
    if (remaining.length === 0 && !force && await inUse(row.id)) {
      throw new A3sError(
        "image_in_use",
        `image ${ref} is used by a box; remove the box first or use -f`,
        { status: 409 },
      );
    }
    const deleted: string[] = [];
    try {
      for (const tag of untag) {
        await this.#db.deleteFrom("box_tags").where("ref", "=", tag).execute();
      }
      if (remaining.length === 0 && (force || !(await inUse(row.id)))) {
        await this.#db.deleteFrom("box_images").where("id", "=", row.id).execute();
        deleted.push(row.id);
      }
    } finally {
      // Also after a failure part-way: whatever was deleted must not be served from a cache.
      this.#tags.changed();
    }
    return { untagged: untag, deleted };
  }

  /** The unpacked rootfs of an image, built once (concurrent callers share the build). */
  rootfs(imageId: string): Promise<string> {
    const dir = join(this.dir, "rootfs", hex(imageId));
    // Built already (every start but an image's first): one synchronous stat, on a box's start
    // path, instead of a trip through the thread pool.
    if (!this.#building.has(dir) && existsSync(dir, { noFollow: true })) {
      return Promise.resolve(dir);
    }
    const pending = this.#building.get(dir) ?? this.#buildRootfs(imageId, dir);
    this.#building.set(dir, pending);
    pending.finally(() => this.#building.delete(dir)).catch(() => {});
    return pending;
  }

  async #buildRootfs(imageId: string, dir: string): Promise<string> {
    if (await exists(dir, { noFollow: true })) return dir;
    const row = await this.resolve(imageId);
    const temp = `${dir}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.mkdir(temp, { mode: 0o755 });
    try {
      for (const layer of JSON.parse(row.layers) as LayerDescriptor[]) {
        const tar = await maybeGunzip(await this.getBlob(layer.digest));
        if (layer.diffId && layer.diffId !== await digestOf(tar)) {
          throw new A3sError("digest_mismatch", `layer ${layer.digest} does not match its diff id`);
        }
        await extractLayer(tar, temp);
      }
      await Deno.rename(temp, dir).catch(async (error) => {
        // Another process built it first; theirs is as good as ours.
        if (!(await exists(dir, { noFollow: true }))) throw error;
        await Deno.remove(temp, { recursive: true });
      });
      return dir;
    } catch (error) {
      await Deno.remove(temp, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /**
   * Loads a docker-archive or OCI-layout tarball (gzip or plain). Returns the refs (or ids, for
   * untagged images) it loaded.
   */
  async load(archive: Uint8Array): Promise<string[]> {
    const files = new Map<string, Uint8Array>();
    for (const entry of readTar(await maybeGunzip(archive))) {
      if (entry.type === "file") files.set(entry.path.replace(/^\.\//, ""), entry.data);
    }
    const loaded: string[] = [];
    if (files.has("index.json")) {
      for (const [path, data] of files) {
        const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
        if (match) await this.putBlob(data, `sha256:${match[1]}`);
      }
      const index = parseImageJson(
        ImageIndexSchema,
        files.get("index.json")!,
        "the archive's index.json",
        archiveError,
      );
      for (const descriptor of index.manifests) {
        const name = descriptor.annotations?.["io.containerd.image.name"] ??
          descriptor.annotations?.["org.opencontainers.image.ref.name"];
        const manifest = await this.#platformManifest(descriptor);
        const tags = name && /[:@]/.test(name) ? [name] : name ? [`${name}:latest`] : [];
        const id = await this.addImage(manifest, tags);
        loaded.push(...(tags.length ? tags : [id]));
      }
      return loaded;
    }
    const manifestJson = files.get("manifest.json");
    if (!manifestJson) {
      throw new ValidationError("archive is neither an OCI layout nor a docker archive", "archive");
    }
    const entries = parseImageJson(
      DockerArchiveManifestSchema,
      manifestJson,
      "the archive's manifest.json",
      archiveError,
    );
    for (const entry of entries) {
      const configBytes = files.get(entry.Config);
      if (!configBytes) throw new ValidationError(`archive lacks ${entry.Config}`, "archive");
      const layerTars: Uint8Array[] = [];
      for (const layerPath of entry.Layers) {
        const data = files.get(layerPath);
        if (!data) throw new ValidationError(`archive lacks ${layerPath}`, "archive");
        layerTars.push(await maybeGunzip(data));
      }
      const config = parseImageJson(ImageConfigSchema, configBytes, entry.Config, archiveError);
      const id = await this.createImage(layerTars, config, entry.RepoTags ?? []);
      loaded.push(...(entry.RepoTags?.length ? entry.RepoTags : [id]));
    }
    return loaded;
  }

  /** Follows an index to the host platform's manifest, returning the manifest bytes. */
  async #platformManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const bytes = await this.getBlob(descriptor.digest);
    const parsed = parseImageJson(
      ManifestOrIndexSchema,
      bytes,
      `manifest ${descriptor.digest}`,
      archiveError,
    );
    if (!parsed.manifests) return bytes;
    const platform = hostPlatform();
    const chosen = parsed.manifests.find((m) =>
      m.platform?.os === platform.os && m.platform.architecture === platform.architecture
    );
    if (!chosen) {
      throw new NotFoundError(`image has no ${platform.os}/${platform.architecture} variant`);
    }
    return await this.#platformManifest(chosen);
  }

  /** Writes images as one tarball that is both an OCI layout and a docker archive. */
  async save(refs: readonly string[]): Promise<Uint8Array> {
    const entries: TarInput[] = [{ path: "blobs/", type: "dir" }, {
      path: "blobs/sha256/",
      type: "dir",
    }];
    const written = new Set<string>();
    const addBlob = async (digest: string) => {
      if (written.has(digest)) return;
      written.add(digest);
      entries.push({
        path: `blobs/sha256/${hex(digest)}`,
        type: "file",
        data: await this.getBlob(digest),
      });
    };
    const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
    const dockerManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    for (const ref of refs) {
      const row = await this.resolve(ref);
      const manifestBytes = await this.getBlob(row.id);
      await addBlob(row.id);
      await addBlob(row.config_digest);
      const layers = JSON.parse(row.layers) as LayerDescriptor[];
      for (const layer of layers) await addBlob(layer.digest);
      const isTag = !/^(sha256:)?[a-f0-9]{6,64}$/.test(ref);
      const tag = isTag ? formatReference(parseReference(ref)) : undefined;
      index.manifests.push({
        mediaType: MEDIA.ociManifest,
        digest: row.id,
        size: manifestBytes.length,
        annotations: tag ? { "io.containerd.image.name": tag } : undefined,
      });
      dockerManifest.push({
        Config: `blobs/sha256/${hex(row.config_digest)}`,
        RepoTags: tag ? [tag] : [],
        Layers: layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      });
    }
    entries.push(
      { path: "oci-layout", type: "file", data: encoder.encode('{"imageLayoutVersion":"1.0.0"}') },
      { path: "index.json", type: "file", data: encoder.encode(JSON.stringify(index)) },
      { path: "manifest.json", type: "file", data: encoder.encode(JSON.stringify(dockerManifest)) },
    );
    return writeTar(entries);
  }

  /**
   * Deletes blobs and unpacked rootfs dirs no image references. Returns the bytes freed.
   */
  async gc(): Promise<number> {
    const rows = await this.#db.selectFrom("box_images").selectAll().execute();
    const live = new Set<string>();
    for (const row of rows) {
      live.add(hex(row.id));
      live.add(hex(row.config_digest));
      for (const layer of JSON.parse(row.layers) as LayerDescriptor[]) live.add(hex(layer.digest));
    }
    let freed = 0;
    const blobs = join(this.dir, "blobs", "sha256");
    for await (const entry of Deno.readDir(blobs)) {
      if (live.has(entry.name)) continue;
      const path = join(blobs, entry.name);
      freed += (await Deno.stat(path)).size;
      await Deno.remove(path);
    }
    const rootfs = join(this.dir, "rootfs");
    const liveIds = new Set(rows.map((r) => hex(r.id)));
    for await (const entry of Deno.readDir(rootfs)) {
      if (liveIds.has(entry.name)) continue;
      await Deno.remove(join(rootfs, entry.name), { recursive: true });
    }
    // Stale tags of vanished images go too.
    const tags = await this.#db.selectFrom("box_tags").selectAll().execute();
    for (const tag of tags) {
      if (!rows.some((r) => r.id === tag.image_id)) {
        await this.#db.deleteFrom("box_tags").where("ref", "=", tag.ref).execute();
      }
    }
    this.#tags.changed();
    return freed;
  }
}
