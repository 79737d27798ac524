/**
 * TEE awareness: whether this host runs as a confidential guest (AMD SEV-SNP or Intel TDX), told
 * by the guest devices the kernel exposes. Written without safeclaw dependencies so that box can
 * use the same check.
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

const DEVICES: readonly [string, Exclude<TeeKind, null>][] = [
  ["dev/sev-guest", "sev-snp"],
  ["dev/tdx_guest", "tdx"],
  ["dev/tdx-guest", "tdx"],
];

/**
 * Detects a TEE by its guest device under `root` (default `/`; tests pass a fake root).
 *
 * @example
 * ```ts
 * import { detectTee } from "@a3s/safeclaw";
 * console.log(detectTee().kind); // null on an ordinary host
 * ```
 */
export function detectTee(root = "/"): TeeStatus {
  for (const [path, kind] of DEVICES) {
    const device = root.replace(/\/?$/, "/") + path;
    try {
      // The kernel's guest driver makes a character device; a file or a folder of that name
      // (`touch /dev/sev-guest`) is no TEE.
      if (Deno.statSync(device).isCharDevice) return { kind, device };
    } catch {
      // Absent or unreadable: not this kind.
    }
  }
  return { kind: null, device: null };
}
