/**
 * An image's JSON (manifests, indexes, configs, token answers) read as hostile input, whether a
 * registry sent it or an archive held it: each is read up to a size limit (a manifest up to
 * 4 MiB, as containerd allows; a blob up to the size its manifest declared) and checked against
 * the OCI shape box relies on before any field is used. What does not fit is refused with the
 * first wrong field named (502 from a registry, 400 from an archive), never a crash or an
 * unbounded read.
 */
import { A3sError, parseJson } from "@a3s/common";
import { z } from "zod";
import { concatByteList } from "../_bytes.ts";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from "./oci.ts";

/** The largest manifest or index box reads, as containerd limits them. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The largest token answer box reads. */
export const MAX_TOKEN_BYTES = 64 * 1024;

/** A registry's answer that box cannot use. */
export function registryError(message: string, status = 502): A3sError {
  return new A3sError("registry_error", message, { status });
}

/** Docker writes `null` for an empty list or map; box reads that as absent. */
function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? undefined);
}

const DescriptorSchema: z.ZodType<Descriptor> = z.looseObject({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be a sha256 digest"),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  platform: z.looseObject({
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
  }).optional(),
  annotations: optional(z.record(z.string(), z.string())),
});

/** The fields of a manifest or index read before its kind is known. */
export const ManifestHeadSchema = z.looseObject({ mediaType: z.string().optional() });

/** An image manifest. */
export const ImageManifestSchema: z.ZodType<ImageManifest> = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});

/** An image index or Docker manifest list. */
export const ImageIndexSchema: z.ZodType<ImageIndex> = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
});

const strings = optional(z.array(z.string()));
// Docker writes `{}` for each port and volume; whatever else is there is not read.
const emptyObjects = optional(z.record(z.string(), z.object({})));

/** The parts of an image config box uses, with the types it uses them as. */
export const ImageConfigSchema: z.ZodType<ImageConfig, unknown> = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  created: z.string().optional(),
  author: z.string().optional(),
  config: optional(z.looseObject({
    Env: strings,
    Cmd: strings,
    Entrypoint: strings,
    WorkingDir: z.string().optional(),
    User: z.string().optional(),
    ExposedPorts: emptyObjects,
    Labels: optional(z.record(z.string(), z.string())),
    Volumes: emptyObjects,
    StopSignal: z.string().optional(),
    Healthcheck: optional(z.looseObject({
      Test: z.array(z.string()),
      Interval: z.number().optional(),
      Timeout: z.number().optional(),
      StartPeriod: z.number().optional(),
      StartInterval: z.number().optional(),
      Retries: z.number().optional(),
    })),
    OnBuild: strings,
  })),
  rootfs: z.looseObject({ type: z.literal("layers"), diff_ids: z.array(z.string()) }).optional(),
  history: optional(z.array(z.looseObject({
    created: z.string().optional(),
    created_by: z.string().optional(),
    comment: z.string().optional(),
    empty_layer: z.boolean().optional(),
  }))),
});

/** A docker-archive's `manifest.json`: one entry per image. */
export const DockerArchiveManifestSchema = z.array(z.looseObject({
  Config: z.string(),
  RepoTags: optional(z.array(z.string())),
  Layers: z.array(z.string()),
}));

/** A manifest or an index, told apart by `manifests`. */
export const ManifestOrIndexSchema = z.looseObject({
  manifests: z.array(DescriptorSchema).optional(),
});

/** A token endpoint's answer: Docker Hub sends `token`, others `access_token`. */
export const TokenAnswerSchema = z.looseObject({
  token: z.string().min(1).optional(),
  access_token: z.string().min(1).optional(),
});

/**
 * The body of `response`, refused once it passes `max` bytes (by its Content-Length, or while
 * it is read) so that a registry cannot make box hold more than the answer may be.
 */
export async function readCapped(
  response: Response,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel();
    throw registryError(`registry sent a ${what} of ${declared} bytes, more than ${max}`);
  }
  if (!response.body) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of response.body) {
    length += part.length;
    if (length > max) {
      throw registryError(`registry sent a ${what} of more than ${max} bytes`);
    }
    parts.push(part);
  }
  return concatByteList(parts);
}

/** An archive's content that box cannot use. */
export function archiveError(message: string): A3sError {
  return new A3sError("bad_archive", message, { status: 400 });
}

/**
 * `bytes` as JSON of `schema`'s shape; otherwise `fail` gets one line naming the `what` and
 * the first thing wrong with it (`registryError` or `archiveError`).
 */
export function parseImageJson<T>(
  schema: z.ZodType<T, unknown>,
  bytes: Uint8Array,
  what: string,
  fail: (message: string) => A3sError,
): T {
  const parsed = parseJson(schema, new TextDecoder().decode(bytes));
  if (parsed.ok) return parsed.value;
  if (!parsed.issue) throw fail(`${what} is not JSON`);
  const path = parsed.issue.path.map(String).join(".");
  throw fail(`${what} is invalid: ${path ? `${path}: ` : ""}${parsed.issue.message}`);
}
