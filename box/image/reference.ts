/**
 * Image references as Docker spells them: `busybox`, `busybox:1.36`, `localhost:5000/a/b:tag`,
 * `name@sha256:...`. The registry is the first component when it looks like a host.
 */
import { ValidationError } from "@a3s/common";

/** A parsed image reference. */
export interface ImageReference {
  /** Registry host (`docker.io` when none was named). */
  registry: string;
  /** Repository path within the registry, `library/busybox` on Docker Hub. */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** The `sha256:` digest pinning the manifest, when the reference names one. */
  digest?: string;
  /** The short form shown in listings: `busybox`, `localhost:5000/app`. */
  name: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Parses a reference, throwing a {@linkcode ValidationError} naming `field` when it is malformed.
 *
 * @example
 * ```ts
 * import { parseReference } from "@a3s/box";
 * console.log(parseReference("localhost:5000/tools/bb:1").registry); // localhost:5000
 * ```
 */
export function parseReference(input: string, field = "image"): ImageReference {
  let rest = input.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ValidationError(`invalid digest in '${input}'`, field);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ValidationError(`invalid tag in '${input}'`, field);
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
    registry = parts.shift()!;
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) {
    throw new ValidationError(
      `invalid image reference '${input}': use lowercase name[:tag] or name@sha256:digest`,
      field,
    );
  }
  const path = parts.join("/");
  const repository = registry === "docker.io" && parts.length === 1 ? `library/${path}` : path;
  const name = registry === "docker.io" ? path : `${registry}/${path}`;
  return { registry, repository, tag: tag ?? (digest ? undefined : "latest"), digest, name };
}

/** The canonical `name:tag` (or `name@digest`) of a reference. */
export function formatReference(ref: ImageReference): string {
  return ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? "latest"}`;
}
