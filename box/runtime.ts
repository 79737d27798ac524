/**
 * Opens box's runtime for a data dir: the image store, the drivers and the manager, over the
 * shared store. The CLI and the `serve` module both build theirs here, so they agree on paths.
 */
import { join, resolve } from "node:path";
import type { Store } from "@a3s/common";
import { ImageStore } from "./image/store.ts";
import { type AuditSink, BoxManager, type LifecycleSink } from "./manager.ts";
import { NamespaceDriver } from "./drivers/namespace.ts";
import { QemuDriver } from "./drivers/qemu.ts";
import { KvmDriver } from "./kvm/driver.ts";
import type { BoxDriver } from "./types.ts";

/** Options for {@linkcode openBoxRuntime}. */
export interface BoxRuntimeOptions {
  /** The shared store that holds box's tables. */
  store: Store;
  /** The data dir; images, box state and driver caches live under `<home>/box`. */
  home: string;
  /** Extra drivers (the kvm VMM, a CRI shim) beside the built-in ones. */
  drivers?: readonly BoxDriver[];
  /** Also receives every audited box action, besides the store. */
  audit?: AuditSink;
  /** Receives each box's lifecycle transitions. */
  lifecycle?: LifecycleSink;
  /**
   * Keeps the next namespace box's launcher prestarted (a long-lived manager such as `serve`;
   * a one-shot CLI would spawn one only to discard it). Off unless set.
   */
  prestart?: boolean;
}

/**
 * The built-in drivers for a data dir: qemu (a VM) and namespace (bubblewrap), the latter
 * prestarting launchers when `prestart` is set.
 */
export function defaultDrivers(home: string, prestart = false): BoxDriver[] {
  const agentCacheDir = join(home, "box", "agent");
  return [
    new QemuDriver({ agentCacheDir, workDir: join(home, "box", "qemu") }),
    // Two launchers wait: a box started right after another finds one ready as well.
    new NamespaceDriver({ agentCacheDir, prestart, ...(prestart ? { prestartPool: 2 } : {}) }),
    new KvmDriver({ cacheDir: join(home, "box", "kvm") }),
  ];
}

/**
 * Opens the manager for `home`.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * console.log((await boxes.info()).map((d) => d.name));
 * ```
 */
export async function openBoxRuntime(options: BoxRuntimeOptions): Promise<BoxManager> {
  const images = await ImageStore.open(options.store, join(options.home, "box", "images"));
  const drivers = [...(options.drivers ?? []), ...defaultDrivers(options.home, options.prestart)];
  const manager = await BoxManager.open({
    store: options.store,
    images,
    home: options.home,
    drivers,
    audit: options.audit,
    lifecycle: options.lifecycle,
  });
  if (options.prestart) {
    // The first box of a fresh `serve` finds a launcher ready too, unless it comes before the
    // launcher is (the agent's build on a new data dir, then some milliseconds). Not awaited:
    // the runtime opens as fast as without it.
    const boxesDir = resolve(options.home, "box", "boxes");
    for (const driver of drivers) {
      if (driver instanceof NamespaceDriver) driver.prestartFirst(boxesDir).catch(() => {});
    }
  }
  return manager;
}
