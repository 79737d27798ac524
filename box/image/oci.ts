/** OCI and Docker media types and the JSON shapes box reads and writes. */

/** Manifest and index media types box accepts, OCI first. */
export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/** A layer as the image store records it. */
export interface LayerDescriptor extends Descriptor {
  /** sha256 of the uncompressed tar, from the config's `rootfs.diff_ids`. */
  diffId?: string;
}

/** An image manifest. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image index (or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The parts of an image config box uses. */
export interface ImageConfig {
  /** The CPU architecture the image is built for (`amd64`, `arm64`). */
  architecture?: string;
  /** The operating system the image is built for (`linux`). */
  os?: string;
  /** When the image was created, as an RFC 3339 timestamp. */
  created?: string;
  /** Who made the image (a Dockerfile's MAINTAINER). */
  author?: string;
  /**
   * How a box of this image runs by default: its command, environment, working dir, user, ports,
   * labels, volumes and stop signal.
   */
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Labels?: Record<string, string>;
    Volumes?: Record<string, Record<string, never>>;
    StopSignal?: string;
    /** A Dockerfile's HEALTHCHECK: `Test` is `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", cmd]`; times in nanoseconds. */
    Healthcheck?: {
      Test: string[];
      Interval?: number;
      Timeout?: number;
      StartPeriod?: number;
      StartInterval?: number;
      Retries?: number;
    };
    /** A Dockerfile's ONBUILD triggers, run when another build starts FROM this image. */
    OnBuild?: string[];
  };
  /** The digests of the uncompressed layers, bottom first. */
  rootfs?: { type: "layers"; diff_ids: string[] };
  /** How the image was made, one entry per step, oldest first. */
  history?: HistoryEntry[];
}

/** One step of how an image was made, as `box history` shows it. */
export interface HistoryEntry {
  /** When the step ran, as an RFC 3339 timestamp. */
  created?: string;
  /** The instruction or command the step ran. */
  created_by?: string;
  /** A free-form note on the step. */
  comment?: string;
  /** True for steps that changed only the config (no layer). */
  empty_layer?: boolean;
}

/** sha256 of bytes as an OCI digest. */
export async function digestOf(data: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return `sha256:${
    Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** The host's platform in OCI terms. */
export function hostPlatform(): { architecture: string; os: string } {
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
  return { architecture: arch, os: "linux" };
}
