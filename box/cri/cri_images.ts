/**
 * The CRI ImageService over box's image store: list, status, pull (from the registry, or from its
 * mirror when one is configured, as containerd's `registry.mirrors`), remove and filesystem use.
 * References are matched as the kubelet sends them (`docker.io/library/busybox:1.36`).
 */
import { join } from "node:path";
import { NotFoundError } from "@a3s/common";
import type { BoxManager } from "../manager.ts";
import { RegistryClient } from "../image/registry.ts";
import { formatReference, parseReference } from "../image/reference.ts";
import { type CriMessage, nanos, need, unlessNotFound } from "./cri_messages.ts";

/**
 * Images for the kubelet.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { CriImageService, openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * console.log(await new CriImageService(boxes).listImages({}));
 * ```
 */
export class CriImageService {
  readonly #boxes: BoxManager;
  readonly #mirrors: Record<string, string>;

  /** The image service of `boxes`' store; `mirrors` maps a registry to its mirror. */
  constructor(boxes: BoxManager, mirrors: Record<string, string> = {}) {
    this.#boxes = boxes;
    this.#mirrors = mirrors;
  }

  #image(
    summary: {
      id: string;
      repoTags: string[];
      size: number;
      config: { config?: { User?: string } };
    },
  ) {
    const user = summary.config.config?.User ?? "";
    const uid = /^\d+/.exec(user)?.[0];
    return {
      id: summary.id,
      repo_tags: summary.repoTags,
      repo_digests: [],
      size: String(summary.size || 1),
      uid: uid !== undefined ? { value: uid } : undefined,
      username: uid === undefined ? user.split(":")[0] : "",
      spec: { image: summary.id },
      pinned: false,
    };
  }

  /** `ListImages`: the stored images, or those whose id or a tag matches the filter. */
  async listImages(request: { filter?: { image?: { image?: string } } }): Promise<CriMessage> {
    const filter = request.filter?.image?.image;
    const wanted = filter ? canonicalImage(filter) : undefined;
    const images = [];
    for (const summary of await this.#boxes.images.list()) {
      if (wanted && summary.id !== wanted && !summary.repoTags.some((t) => t.startsWith(wanted))) {
        continue;
      }
      images.push(this.#image(summary));
    }
    return { images };
  }

  /** `ImageStatus`: the image a reference names, or no image (not an error) when there is none. */
  async imageStatus(request: { image?: { image?: string } }): Promise<CriMessage> {
    const ref = need(request.image?.image, "image.image");
    try {
      return {
        image: this.#image(await this.#boxes.images.inspect(canonicalImage(ref))),
        info: {},
      };
    } catch (error) {
      // The kubelet reads "no image" from an empty response, not an error.
      if (error instanceof NotFoundError) return { info: {} };
      throw error;
    }
  }

  /** `PullImage`: pulls from the registry with the request's credentials; returns the image id. */
  async pullImage(request: {
    image?: { image?: string };
    auth?: { username?: string; password?: string; server_address?: string };
  }): Promise<CriMessage> {
    const ref = need(request.image?.image, "image.image");
    const credentials: Record<string, string> = {};
    if (request.auth?.username && request.auth.server_address) {
      credentials[request.auth.server_address] = `${request.auth.username}:${
        request.auth.password ?? ""
      }`;
    }
    const wanted = parseReference(ref, "image.image");
    const mirror = this.#mirrors[wanted.registry];
    if (!mirror) {
      const id = await new RegistryClient(this.#boxes.images, { credentials }).pull(ref);
      return { image_ref: id };
    }
    const endpoint = mirror.replace(/^https?:\/\//, "").replace(/\/+$/, "");
    const via = wanted.digest
      ? `${endpoint}/${wanted.repository}@${wanted.digest}`
      : `${endpoint}/${wanted.repository}:${wanted.tag ?? "latest"}`;
    const client = new RegistryClient(this.#boxes.images, {
      credentials,
      insecure: mirror.startsWith("http://") ? [endpoint] : [],
    });
    const id = await client.pull(via);
    // Known by the name asked for, as with containerd's mirrors; the mirror's name is dropped.
    if (!wanted.digest) {
      await this.#boxes.images.tag(id, canonicalImage(ref));
      await this.#boxes.images.remove(via, () => Promise.resolve(false)).catch(() => {});
    }
    return { image_ref: id };
  }

  /** `RemoveImage`: removes the image and its tags; an unknown image is not an error. */
  async removeImage(request: { image?: { image?: string } }): Promise<CriMessage> {
    const ref = need(request.image?.image, "image.image");
    const image = await unlessNotFound(this.#boxes.images.inspect(canonicalImage(ref)));
    if (!image) return {};
    for (const tag of image.repoTags) {
      await this.#boxes.images.remove(tag, (id) => this.#boxes.imageInUse(id));
    }
    if (image.repoTags.length === 0) {
      await this.#boxes.images.remove(image.id, (id) => this.#boxes.imageInUse(id));
    }
    return {};
  }

  /** `ImageFsInfo`: bytes and inodes the image store's blobs use. */
  async imageFsInfo(): Promise<CriMessage> {
    let used = 0;
    let inodes = 0;
    const blobs = join(this.#boxes.images.dir, "blobs", "sha256");
    for await (const entry of Deno.readDir(blobs)) {
      used += (await Deno.stat(join(blobs, entry.name))).size;
      inodes++;
    }
    return {
      image_filesystems: [{
        timestamp: nanos(Date.now()),
        fs_id: { mountpoint: this.#boxes.images.dir },
        used_bytes: { value: String(used) },
        inodes_used: { value: String(inodes) },
      }],
      container_filesystems: [],
    };
  }
}

/**
 * An image reference as box's store keys it: `docker.io/library/busybox:1.36`, which kubelets
 * and crictl send, is `busybox:1.36` here. Ids and unparsable text pass through unchanged, so the
 * store reports them itself.
 */
export function canonicalImage(ref: string): string {
  if (/^(sha256:)?[a-f0-9]{6,64}$/.test(ref)) return ref;
  try {
    const parsed = parseReference(ref);
    // Docker Hub's official images are stored by their short name (`busybox`, not
    // `library/busybox`), whichever way the reference spelled them.
    const name = parsed.registry === "docker.io"
      ? parsed.repository.replace(/^library\//, "")
      : `${parsed.registry}/${parsed.repository}`;
    return formatReference({ ...parsed, name });
  } catch {
    return ref;
  }
}
