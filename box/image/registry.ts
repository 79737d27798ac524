/**
 * A client for the OCI distribution API: pull (bearer-token auth, multi-arch index selection,
 * digest verification of every manifest and blob) and push (monolithic blob uploads, then the
 * manifest). Plain HTTP only for `localhost` registries or ones the caller lists as insecure.
 */
import { A3sError, NotFoundError } from "@a3s/common";
import type { ImageStore } from "./store.ts";
import { type Descriptor, digestOf, hostPlatform, type LayerDescriptor, MEDIA } from "./oci.ts";
import {
  ImageConfigSchema,
  ImageIndexSchema,
  ImageManifestSchema,
  ManifestHeadSchema,
  MAX_MANIFEST_BYTES,
  MAX_TOKEN_BYTES,
  parseImageJson,
  readCapped,
  registryError,
  TokenAnswerSchema,
} from "./image_json.ts";
import { formatReference, type ImageReference, parseReference } from "./reference.ts";

/** A fetch function; `serve` passes the shared access policy's. */
export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

/** Options for {@linkcode RegistryClient}. */
export interface RegistryOptions {
  /** How requests are made; the global `fetch` when unset. */
  fetch?: Fetcher;
  /** Registries (`host:port`) reached over plain HTTP besides localhost. */
  insecure?: readonly string[];
  /** `user:password` per registry for basic auth or token requests. */
  credentials?: Record<string, string>;
  /** Progress lines (`pulling layer ...`). */
  onProgress?: (line: string) => void;
}

const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest]
  .join(", ");

const decoder = new TextDecoder();

/** Parses `Bearer realm="...",service="...",scope="..."`. */
function parseChallenge(header: string): Record<string, string> | undefined {
  if (!/^bearer /i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const match of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[match[1]] = match[2];
  return params.realm ? params : undefined;
}

/**
 * Talks to one or more registries for an {@linkcode ImageStore}.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { ImageStore, RegistryClient } from "@a3s/box";
 * const images = await ImageStore.open(await openStore({ sqlitePath: ":memory:" }), "/tmp/i");
 * const registry = new RegistryClient(images);
 * // await registry.pull("localhost:5000/busybox:latest");
 * ```
 */
export class RegistryClient {
  readonly #images: ImageStore;
  readonly #options: RegistryOptions;
  readonly #fetch: Fetcher;
  readonly #tokens = new Map<string, string>();

  /** A client that pulls into and pushes from `images`. */
  constructor(images: ImageStore, options: RegistryOptions = {}) {
    this.#images = images;
    this.#options = options;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** How errors name the image `ref` and where it came from. */
  #what(ref: ImageReference): string {
    return `${formatReference(ref)} from ${ref.registry}`;
  }

  #base(ref: ImageReference): string {
    const host = ref.registry === "docker.io" ? "registry-1.docker.io" : ref.registry;
    const plain = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host) ||
      (this.#options.insecure ?? []).includes(host);
    return `${plain ? "http" : "https"}://${host}/v2/${ref.repository}`;
  }

  /** One request with auth: a 401 with a bearer challenge fetches a token and retries once. */
  async #request(
    ref: ImageReference,
    url: string,
    init: RequestInit,
    push = false,
  ): Promise<Response> {
    const scope = `repository:${ref.repository}:${push ? "pull,push" : "pull"}`;
    const key = `${ref.registry}|${scope}`;
    const send = () => {
      const headers = new Headers(init.headers);
      const token = this.#tokens.get(key);
      const basic = this.#options.credentials?.[ref.registry];
      if (token) headers.set("authorization", `Bearer ${token}`);
      else if (basic) headers.set("authorization", `Basic ${btoa(basic)}`);
      return this.#fetch(url, { ...init, headers }).catch((error) => {
        throw registryError(`cannot reach registry ${ref.registry}: ${(error as Error).message}`);
      });
    };
    let response = await send();
    if (response.status !== 401) return response;
    const challenge = parseChallenge(response.headers.get("www-authenticate") ?? "");
    await response.body?.cancel();
    if (!challenge) return response;
    const tokenUrl = new URL(challenge.realm);
    if (challenge.service) tokenUrl.searchParams.set("service", challenge.service);
    tokenUrl.searchParams.set("scope", challenge.scope ?? scope);
    const basic = this.#options.credentials?.[ref.registry];
    const tokenResponse = await this.#fetch(tokenUrl.href, {
      headers: basic ? { authorization: `Basic ${btoa(basic)}` } : {},
    }).catch((error) => {
      // Docker Hub's tokens come from another host (auth.docker.io), which can be down alone.
      throw registryError(
        `cannot reach registry ${ref.registry}: its token service ${tokenUrl.host}: ${
          (error as Error).message
        }`,
      );
    });
    if (!tokenResponse.ok) {
      await tokenResponse.body?.cancel();
      throw registryError(
        `registry ${ref.registry} refused a token (${tokenResponse.status})`,
        401,
      );
    }
    const body = parseImageJson(
      TokenAnswerSchema,
      await readCapped(tokenResponse, MAX_TOKEN_BYTES, "token answer"),
      `the token answer of ${ref.registry}`,
      registryError,
    );
    const token = body.token ?? body.access_token;
    if (!token) throw registryError(`registry ${ref.registry} sent no token`, 401);
    this.#tokens.set(key, token);
    response = await send();
    return response;
  }

  async #fetchManifest(
    ref: ImageReference,
    reference: string,
  ): Promise<{ bytes: Uint8Array; digest: string; mediaType: string }> {
    const response = await this.#request(ref, `${this.#base(ref)}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new NotFoundError(`manifest for ${formatReference(ref)} not found`, "image");
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw registryError(`registry answered ${response.status} for ${formatReference(ref)}`);
    }
    const bytes = await readCapped(response, MAX_MANIFEST_BYTES, "manifest");
    const digest = await digestOf(bytes);
    const claimed = response.headers.get("docker-content-digest");
    if (
      (reference.startsWith("sha256:") && reference !== digest) || (claimed && claimed !== digest)
    ) {
      throw new A3sError(
        "digest_mismatch",
        `manifest digest ${digest} does not match ${claimed ?? reference}`,
        { status: 502 },
      );
    }
    const parsed = parseImageJson(
      ManifestHeadSchema,
      bytes,
      `the manifest of ${this.#what(ref)}`,
      registryError,
    );
    const mediaType = parsed.mediaType ?? response.headers.get("content-type") ?? MEDIA.ociManifest;
    return { bytes, digest, mediaType };
  }

  async #fetchBlob(ref: ImageReference, descriptor: Descriptor): Promise<void> {
    if (await this.#images.hasBlob(descriptor.digest)) return;
    const response = await this.#request(ref, `${this.#base(ref)}/blobs/${descriptor.digest}`, {});
    if (!response.ok) {
      await response.body?.cancel();
      throw registryError(`registry answered ${response.status} for blob ${descriptor.digest}`);
    }
    const bytes = await readCapped(response, descriptor.size, `blob ${descriptor.digest}`);
    await this.#images.putBlob(bytes, descriptor.digest);
  }

  /** Pulls an image into the store and tags it; returns the image id. */
  async pull(reference: string): Promise<string> {
    const ref = parseReference(reference);
    let manifest = await this.#fetchManifest(ref, ref.digest ?? ref.tag ?? "latest");
    if (manifest.mediaType === MEDIA.ociIndex || manifest.mediaType === MEDIA.dockerList) {
      const index = parseImageJson(
        ImageIndexSchema,
        manifest.bytes,
        `the index of ${this.#what(ref)}`,
        registryError,
      );
      const platform = hostPlatform();
      const chosen = index.manifests.find((m) =>
        m.platform?.os === platform.os && m.platform.architecture === platform.architecture
      );
      if (!chosen) {
        throw new NotFoundError(
          `${formatReference(ref)} has no ${platform.os}/${platform.architecture} image`,
          "image",
        );
      }
      manifest = await this.#fetchManifest(ref, chosen.digest);
    }
    const parsed = parseImageJson(
      ImageManifestSchema,
      manifest.bytes,
      `the manifest of ${this.#what(ref)}`,
      registryError,
    );
    await this.#fetchBlob(ref, parsed.config);
    parseImageJson(
      ImageConfigSchema,
      await this.#images.getBlob(parsed.config.digest),
      `the config of ${this.#what(ref)}`,
      registryError,
    );
    for (const layer of parsed.layers) {
      this.#options.onProgress?.(`${layer.digest.slice(7, 19)}: pulling ${layer.size} bytes`);
      await this.#fetchBlob(ref, layer);
    }
    return await this.#images.addImage(manifest.bytes, ref.digest ? [] : [formatReference(ref)]);
  }

  /** Pushes a stored image to `target` (or its own name); returns the manifest digest. */
  async push(source: string, target = source): Promise<string> {
    const row = await this.#images.resolve(source);
    const ref = parseReference(target);
    const layers = JSON.parse(row.layers) as LayerDescriptor[];
    for (const digest of [...layers.map((l) => l.digest), row.config_digest]) {
      const head = await this.#request(ref, `${this.#base(ref)}/blobs/${digest}`, {
        method: "HEAD",
      }, true);
      await head.body?.cancel();
      if (head.ok) continue;
      const start = await this.#request(ref, `${this.#base(ref)}/blobs/uploads/`, {
        method: "POST",
      }, true);
      await start.body?.cancel();
      const location = start.headers.get("location");
      if (start.status !== 202 || !location) {
        throw registryError(`registry refused an upload (${start.status})`);
      }
      const url = new URL(location, this.#base(ref));
      url.searchParams.set("digest", digest);
      const put = await this.#request(ref, url.href, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: await this.#images.getBlob(digest) as Uint8Array<ArrayBuffer>,
      }, true);
      await put.body?.cancel();
      if (put.status !== 201) throw registryError(`blob upload failed (${put.status})`);
    }
    const manifest = await this.#images.getBlob(row.id);
    const mediaType = (JSON.parse(decoder.decode(manifest)) as { mediaType?: string }).mediaType ??
      MEDIA.ociManifest;
    const put = await this.#request(ref, `${this.#base(ref)}/manifests/${ref.tag ?? row.id}`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: manifest as Uint8Array<ArrayBuffer>,
    }, true);
    await put.body?.cancel();
    if (put.status !== 201) throw registryError(`manifest upload failed (${put.status})`);
    return row.id;
  }
}
