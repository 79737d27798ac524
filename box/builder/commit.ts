/**
 * What a box changed, read from its writable layer: `commit` (an image of the box's image plus
 * that layer), `diff` (Docker's A/C/D listing) and `export` (the box's whole filesystem as one
 * tar: the image's rootfs with the layer applied).
 */
import { join } from "node:path";
import type { BoxManager } from "../manager.ts";
import { digestOf, type ImageConfig, type LayerDescriptor, MEDIA } from "../image/oci.ts";
import { gzip, type TarInput, writeTar } from "../image/tar.ts";
import { upperToLayer } from "./layer_diff.ts";
import { writeImage } from "./write_image.ts";
import { exists } from "../_exists.ts";

/** One changed path: A added, C changed, D deleted. */
export interface BoxChange {
  /** A when added, C when changed, D when deleted, as `docker diff` prints them. */
  kind: "A" | "C" | "D";
  /** The path inside the box, absolute. */
  path: string;
}

/** Records an image of the box's filesystem as it is now; returns the image id. */
export async function commitBox(
  boxes: BoxManager,
  box: string,
  options: { tags?: readonly string[]; message?: string; author?: string } = {},
): Promise<string> {
  const info = await boxes.inspect(box);
  const image = await boxes.images.resolve(info.imageId);
  const tar = writeTar(await upperToLayer(await boxes.writableLayer(info.id)));
  const compressed = await gzip(tar);
  const layer: LayerDescriptor = {
    mediaType: MEDIA.ociLayerGzip,
    digest: await boxes.images.putBlob(compressed),
    size: compressed.length,
    diffId: await digestOf(tar),
  };
  const config = JSON.parse(image.config) as ImageConfig;
  return await writeImage(
    boxes.images,
    {
      layers: [...JSON.parse(image.layers) as LayerDescriptor[], layer],
      config: {
        config: { ...config.config },
        ...(options.author ? { author: options.author } : {}),
      },
      history: [...(config.history ?? []), {
        created: new Date().toISOString(),
        created_by: `box commit ${info.name}`,
        comment: options.message,
      }],
    },
    new Date().toISOString(),
    options.tags ?? [],
  );
}

/** Lists what the box added, changed and deleted, as `docker diff` does. */
export async function diffBox(boxes: BoxManager, box: string): Promise<BoxChange[]> {
  const info = await boxes.inspect(box);
  const lower = await boxes.images.rootfs(info.imageId);
  const changes: BoxChange[] = [];
  for (const entry of await upperToLayer(await boxes.writableLayer(info.id))) {
    const parts = entry.path.split("/");
    const name = parts.at(-1)!;
    if (name === ".wh..wh..opq") continue;
    if (name.startsWith(".wh.")) {
      changes.push({ kind: "D", path: `/${[...parts.slice(0, -1), name.slice(4)].join("/")}` });
      continue;
    }
    changes.push({
      kind: await exists(join(lower, entry.path), { noFollow: true }) ? "C" : "A",
      path: `/${entry.path}`,
    });
  }
  return changes.sort((a, b) => a.path.localeCompare(b.path));
}

/** The box's filesystem as one tar: the image's rootfs with the box's changes applied. */
export async function exportBox(boxes: BoxManager, box: string): Promise<Uint8Array> {
  const info = await boxes.inspect(box);
  const lower = await boxes.images.rootfs(info.imageId);
  const merged = new Map<string, TarInput>();
  const walk = async (dir: string, prefix: string) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const stat = await Deno.lstat(path);
      const owner = { uid: stat.uid ?? 0, gid: stat.gid ?? 0, mode: (stat.mode ?? 0) & 0o7777 };
      if (stat.isDirectory) {
        merged.set(rel, { path: rel, type: "dir", ...owner });
        await walk(path, rel);
      } else if (stat.isSymlink) {
        merged.set(rel, {
          path: rel,
          type: "symlink",
          linkname: await Deno.readLink(path),
          ...owner,
        });
      } else if (stat.isFile) {
        merged.set(rel, { path: rel, type: "file", data: await Deno.readFile(path), ...owner });
      }
    }
  };
  await walk(lower, "");
  const dropUnder = (path: string, keepSelf: boolean) => {
    for (const key of [...merged.keys()]) {
      if ((!keepSelf && key === path) || key.startsWith(`${path}/`)) merged.delete(key);
    }
  };
  for (const entry of await upperToLayer(await boxes.writableLayer(info.id))) {
    const parts = entry.path.split("/");
    const name = parts.at(-1)!;
    const parent = parts.slice(0, -1).join("/");
    if (name === ".wh..wh..opq") dropUnder(parent, true);
    else if (name.startsWith(".wh.")) {
      dropUnder([...parts.slice(0, -1), name.slice(4)].join("/"), false);
    } else {
      if (entry.type !== "dir") dropUnder(entry.path, false);
      merged.set(entry.path, entry);
    }
  }
  return writeTar([...merged.values()].sort((a, b) => a.path.localeCompare(b.path)));
}
