/**
 * TEE awareness: whether this host runs as a confidential guest (AMD SEV-SNP or Intel TDX), told
 * by the guest device the kernel's guest driver registers. Written without safeclaw dependencies
 * so that box can use the same check.
 *
 * What counts: the node `/dev/sev-guest` (SEV-SNP, drivers/virt/coco/sev-guest) or
 * `/dev/tdx_guest` (TDX, drivers/virt/coco/tdx-guest) is itself a character device (not a
 * symlink to one), of the misc class (major 10), and the kernel lists a misc device of that name
 * in `/sys/class/misc/<name>/dev` with the same major:minor. A file, a folder, a symlink to
 * `/dev/null`, or another device mapped in under that name (`docker run --device
 * /dev/null:/dev/sev-guest`) is no TEE.
 *
 * What it does not prove: that the guest's memory is really encrypted, which only a remote
 * attestation report verified against the vendor's keys can show. Whoever controls the kernel
 * (or can load a module that registers a misc device of that name) can still pass this check.
 */

/** The kind of trusted execution environment, or null when none is present. */
export type TeeKind = "sev-snp" | "tdx" | null;

/** What was found. */
export interface TeeStatus {
  /** The TEE found, or null when none. */
  kind: TeeKind;
  /** The device that told us, e.g. `/dev/sev-guest`. */
  device: string | null;
}

/**
 * Options of {@linkcode detectTee}, for tests only: production code calls `detectTee()` and must
 * not let config or the environment set these, or a fake tree would pass for a TEE.
 */
export interface TeeProbeOptions {
  /** The tree to look in (default `/`). */
  root?: string;
  /** How a node is looked at without following a symlink (default `Deno.lstatSync`). */
  lstat?: (path: string) => Pick<Deno.FileInfo, "isCharDevice" | "isSymlink" | "rdev">;
  /** How a sysfs file is read (default `Deno.readTextFileSync`). */
  readText?: (path: string) => string;
}

/** The guest devices: the node under `/dev`, its misc-class name in sysfs, and the kind. */
const DEVICES: readonly [string, string, Exclude<TeeKind, null>][] = [
  ["dev/sev-guest", "sev-guest", "sev-snp"],
  ["dev/tdx_guest", "tdx_guest", "tdx"],
  // The name of early TDX guest patches; still a misc device.
  ["dev/tdx-guest", "tdx-guest", "tdx"],
];

/** The misc class's character major (include/uapi/linux/major.h, MISC_MAJOR). */
const MISC_MAJOR = 10;

/** Linux's `dev_t` split into major and minor (include/linux/kdev_t.h, new encoding). */
function majorMinor(rdev: number): [number, number] {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev % 2 ** 32;
  const major = ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0);
  const minor = (low & 0xff) | ((low >>> 12) & 0xfff00);
  return [major, minor];
}

/**
 * Detects a TEE by its guest device (see the module's comment for what counts). The root and
 * the file reads are test-only options.
 *
 * @example
 * ```ts
 * import { detectTee } from "@a3s/safeclaw";
 * console.log(detectTee().kind); // null on an ordinary host
 * ```
 */
export function detectTee(options: TeeProbeOptions | string = {}): TeeStatus {
  // A string root is the old test-only form, kept so existing callers compile.
  const probe = typeof options === "string" ? { root: options } : options;
  const root = (probe.root ?? "/").replace(/\/?$/, "/");
  const lstat = probe.lstat ?? Deno.lstatSync;
  const readText = probe.readText ?? Deno.readTextFileSync;
  for (const [path, name, kind] of DEVICES) {
    const device = root + path;
    try {
      const info = lstat(device);
      if (info.isSymlink || !info.isCharDevice || info.rdev === null) continue;
      const [major, minor] = majorMinor(info.rdev);
      if (major !== MISC_MAJOR) continue;
      const registered = readText(`${root}sys/class/misc/${name}/dev`).trim();
      if (registered === `${major}:${minor}`) return { kind, device };
    } catch {
      // Absent or unreadable: not this kind.
    }
  }
  return { kind: null, device: null };
}
