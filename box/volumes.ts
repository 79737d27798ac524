/**
 * Named volumes: directories under `<home>/box/volumes/<name>/_data` that outlive the boxes
 * mounting them (`-v data:/var/lib/app`). A volume a box still mounts is removed only with
 * force; `prune` removes the ones no box mounts.
 */
import { join } from "node:path";
import { A3sError, NotFoundError, ValidationError } from "@a3s/common";

/** A volume as `box volume ls/inspect` shows it. */
export interface VolumeInfo {
  /** The volume's name, as `-v name:/path` uses it. */
  name: string;
  /** Always `local`: a directory in the data dir. */
  driver: "local";
  /** The host directory holding the volume's data. */
  mountpoint: string;
  /** When the volume was created, in milliseconds since the epoch. */
  createdAt: number;
  /** Labels given at creation. */
  labels: Record<string, string>;
}

/** Volume names: what Docker allows, so a name can never be a path. */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * The volumes of one data dir.
 *
 * @example
 * ```ts
 * import { VolumeStore } from "@a3s/box";
 * const volumes = new VolumeStore("/tmp/a3s");
 * const data = await volumes.create("data");
 * console.log(data.mountpoint);
 * ```
 */
export class VolumeStore {
  /** The directory holding the volumes, `<home>/box/volumes`. */
  readonly dir: string;

  /** The volume store of the data dir `home`; nothing is created until a volume is. */
  constructor(home: string) {
    this.dir = join(home, "box", "volumes");
  }

  #meta(name: string): string {
    return join(this.dir, name, "volume.json");
  }

  #check(name: string): void {
    if (!VOLUME_NAME.test(name)) {
      throw new ValidationError(
        `invalid volume name '${name}': use letters, digits, '_', '.', '-'`,
        "name",
      );
    }
  }

  /** Creates a volume (an existing one is returned as it is, as Docker does). */
  async create(name?: string, labels: Record<string, string> = {}): Promise<VolumeInfo> {
    const chosen = name ?? crypto.randomUUID().replaceAll("-", "");
    this.#check(chosen);
    const existing = await this.inspect(chosen).catch(() => undefined);
    if (existing) return existing;
    const info: VolumeInfo = {
      name: chosen,
      driver: "local",
      mountpoint: join(this.dir, chosen, "_data"),
      createdAt: Date.now(),
      labels,
    };
    await Deno.mkdir(info.mountpoint, { recursive: true, mode: 0o755 });
    await Deno.writeTextFile(this.#meta(chosen), JSON.stringify(info));
    return info;
  }

  /** A volume by name; throws NotFoundError when there is none. */
  async inspect(name: string): Promise<VolumeInfo> {
    this.#check(name);
    try {
      return JSON.parse(await Deno.readTextFile(this.#meta(name))) as VolumeInfo;
    } catch {
      throw new NotFoundError(`no such volume: ${name}`, "name");
    }
  }

  /** Every volume, sorted by name. */
  async list(): Promise<VolumeInfo[]> {
    const volumes: VolumeInfo[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        const info = await this.inspect(entry.name).catch(() => undefined);
        if (info) volumes.push(info);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return volumes.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Removes a volume and its data. `usedBy` names the boxes mounting it; a used volume needs
   * `force`.
   */
  async remove(name: string, usedBy: readonly string[], force = false): Promise<void> {
    await this.inspect(name);
    if (usedBy.length > 0 && !force) {
      throw new A3sError(
        "volume_in_use",
        `volume ${name} is in use by box ${usedBy.join(", ")}; remove the box or use -f`,
        { status: 409, field: "name" },
      );
    }
    await Deno.remove(join(this.dir, name), { recursive: true });
  }
}
