/**
 * Records an image from layers the store already holds plus a config: the OCI manifest (gzip
 * layers, OCI config) that `build` and `commit` both produce and `push` sends unchanged.
 */
import type { ImageStore } from "../image/store.ts";
import {
  type HistoryEntry,
  hostPlatform,
  type ImageConfig,
  type ImageManifest,
  type LayerDescriptor,
  MEDIA,
} from "../image/oci.ts";

const encoder = new TextEncoder();

/** What an image is made of. */
export interface ImageParts {
  layers: readonly LayerDescriptor[];
  config: ImageConfig;
  history: readonly HistoryEntry[];
}

/**
 * Tools that read images (buildah, containerd) require one non-empty history entry per layer;
 * a base image without history (busybox imported from the host) gets entries for its layers.
 */
export function completeHistory(layers: number, history: readonly HistoryEntry[]): HistoryEntry[] {
  const described = history.filter((h) => !h.empty_layer).length;
  const missing = Math.max(0, layers - described);
  return [
    ...Array.from({ length: missing }, () => ({ created_by: "layer imported without history" })),
    ...history,
  ];
}

/** Writes the config and manifest blobs and records the image; returns its id. */
export async function writeImage(
  images: ImageStore,
  parts: ImageParts,
  created: string,
  tags: readonly string[],
): Promise<string> {
  const config: ImageConfig = {
    ...hostPlatform(),
    ...parts.config,
    created,
    rootfs: { type: "layers", diff_ids: parts.layers.map((l) => l.diffId!) },
    history: completeHistory(parts.layers.length, parts.history),
  };
  const configBytes = encoder.encode(JSON.stringify(config));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: {
      mediaType: MEDIA.ociConfig,
      digest: await images.putBlob(configBytes),
      size: configBytes.length,
    },
    layers: parts.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  return await images.addImage(encoder.encode(JSON.stringify(manifest)), tags);
}
