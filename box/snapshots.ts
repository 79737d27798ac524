/**
 * Snapshots of a box's writable layer: `create` copies what the box changed over its image
 * (the overlay upper dir) into `<home>/box/snapshots/<id>/layer`, `restore` puts it back into
 * the stopped box, so files written before the snapshot return and later ones go. VM drivers
 * keep no writable layer directory yet (the qemu guest runs from an initramfs), so they get a
 * clear 409 from the manager.
 */
import { join } from "node:path";
import { NotFoundError, ValidationError } from "@a3s/common";
import { type BoxManager, copyTree } from "./manager.ts";

/** A snapshot as `box snapshot ls/inspect` shows it. */
export interface SnapshotInfo {
  /** The snapshot's id, 32 hex characters. */
  id: string;
  /** The snapshot's unique name; `<box>-<time>` unless given. */
  name: string;
  /** The id of the box it was taken from. */
  boxId: string;
  /** The name that box had when the snapshot was taken. */
  boxName: string;
  /** The image that box was created from; the layer only makes sense over it. */
  image: string;
  /** When the snapshot was taken, in milliseconds since the epoch. */
  createdAt: number;
  /** Bytes of the copied layer. */
  size: number;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const info = await Deno.lstat(join(dir, entry.name));
    total += info.isDirectory ? await treeSize(join(dir, entry.name)) : info.size;
  }
  return total;
}

/**
 * Box snapshots in one data dir.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { openBoxRuntime, SnapshotStore } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * const snapshots = new SnapshotStore(boxes, "/tmp/a3s");
 * console.log(await snapshots.list());
 * ```
 */
export class SnapshotStore {
  /** The directory holding the snapshots, `<home>/box/snapshots`. */
  readonly dir: string;
  readonly #boxes: BoxManager;

  /** The snapshots of the data dir `home`, taken from and restored into boxes of `boxes`. */
  constructor(boxes: BoxManager, home: string) {
    this.#boxes = boxes;
    this.dir = join(home, "box", "snapshots");
  }

  /** Copies the box's writable layer (running or not) into a new snapshot. */
  async create(box: string, name?: string): Promise<SnapshotInfo> {
    if (name !== undefined && !NAME.test(name)) {
      throw new ValidationError(`invalid snapshot name '${name}'`, "name");
    }
    const info = await this.#boxes.inspect(box);
    const chosen = name ?? `${info.name}-${Date.now()}`;
    if ((await this.list()).some((s) => s.name === chosen)) {
      throw new ValidationError(`a snapshot named '${chosen}' exists`, "name");
    }
    const upper = await this.#boxes.writableLayer(info.id);
    const id = crypto.randomUUID().replaceAll("-", "");
    const layer = join(this.dir, id, "layer");
    await Deno.mkdir(layer, { recursive: true });
    await copyTree(upper, layer);
    const snapshot: SnapshotInfo = {
      id,
      name: chosen,
      boxId: info.id,
      boxName: info.name,
      image: info.image,
      createdAt: Date.now(),
      size: await treeSize(layer),
    };
    await Deno.writeTextFile(join(this.dir, id, "snapshot.json"), JSON.stringify(snapshot));
    return snapshot;
  }

  /** Every snapshot, oldest first. */
  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        const text = await Deno.readTextFile(join(this.dir, entry.name, "snapshot.json"))
          .catch(() => undefined);
        if (text) out.push(JSON.parse(text) as SnapshotInfo);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Finds a snapshot by name, id or unique id prefix. */
  async inspect(ref: string): Promise<SnapshotInfo> {
    const all = await this.list();
    const byName = all.find((s) => s.name === ref);
    if (byName) return byName;
    const byId = all.filter((s) => s.id.startsWith(ref));
    if (byId.length === 1 && ref.length >= 4) return byId[0];
    throw new NotFoundError(`no such snapshot: ${ref}`, "snapshot");
  }

  /** Restores a snapshot into a stopped box (its own box unless `box` names another). */
  async restore(ref: string, box?: string): Promise<SnapshotInfo> {
    const snapshot = await this.inspect(ref);
    await this.#boxes.replaceWritableLayer(
      box ?? snapshot.boxId,
      join(this.dir, snapshot.id, "layer"),
    );
    return snapshot;
  }

  /** Deletes a snapshot (by name, id or unique id prefix); returns what it was. */
  async remove(ref: string): Promise<SnapshotInfo> {
    const snapshot = await this.inspect(ref);
    await Deno.remove(join(this.dir, snapshot.id), { recursive: true });
    return snapshot;
  }
}
