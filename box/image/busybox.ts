/**
 * Builds a minimal image from the host's static busybox (Debian `busybox-static`): one layer
 * with busybox, a symlink per applet, and the few files programs expect. It is box's
 * self-contained base image, for hosts without a registry, and the fixture its tests push.
 */
import { A3sError } from "@a3s/common";
import type { ImageConfig } from "./oci.ts";
import type { TarInput } from "./tar.ts";
import { writeTar } from "./tar.ts";

const encoder = new TextEncoder();

/** The static busybox binary's default location. */
export const DEFAULT_BUSYBOX = "/usr/bin/busybox";

function isStatic(binary: Uint8Array): boolean {
  // A dynamic ELF names its interpreter in a PT_INTERP segment; a static one has none.
  return !new TextDecoder("latin1").decode(binary.subarray(0, 4096)).includes("ld-linux");
}

/**
 * The layer tar (uncompressed) and config of a busybox image.
 *
 * @example
 * ```ts
 * import { busyboxImage } from "@a3s/box";
 * const { layer, config } = await busyboxImage();
 * console.log(layer.length > 0, config.config?.Cmd); // true ["sh"]
 * ```
 */
export async function busyboxImage(
  busybox = DEFAULT_BUSYBOX,
): Promise<{ layer: Uint8Array; config: ImageConfig }> {
  let binary: Uint8Array;
  try {
    binary = await Deno.readFile(busybox);
  } catch {
    throw new A3sError(
      "busybox_missing",
      `${busybox} not found; install Debian's busybox-static package`,
      { status: 400 },
    );
  }
  if (!isStatic(binary)) {
    throw new A3sError("busybox_dynamic", `${busybox} is not statically linked`, { status: 400 });
  }
  const list = await new Deno.Command(busybox, { args: ["--list-full"], stdout: "piped" }).output();
  const applets = new TextDecoder().decode(list.stdout).split("\n").filter(Boolean);
  const entries: TarInput[] = [];
  for (const dir of ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var"]) {
    entries.push({ path: dir, type: "dir", mode: 0o755 });
  }
  for (const dir of ["tmp", "var/tmp"]) entries.push({ path: dir, type: "dir", mode: 0o1777 });
  for (const dir of ["proc", "sys", "dev", "run"]) entries.push({ path: dir, type: "dir" });
  entries.push({ path: "bin/busybox", type: "file", mode: 0o755, data: binary });
  for (const applet of applets) {
    if (applet === "bin/busybox") continue;
    entries.push({ path: applet, type: "symlink", linkname: "/bin/busybox" });
  }
  const files: Record<string, string> = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/os-release": 'NAME="a3s busybox"\nID=busybox\n',
  };
  for (const [path, text] of Object.entries(files)) {
    entries.push({ path, type: "file", mode: 0o644, data: encoder.encode(text) });
  }
  return {
    layer: writeTar(entries),
    config: {
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd: ["sh"],
      },
      // One entry per layer, as image tools (buildah, containerd) expect.
      history: [{ created_by: "busybox-static from the host, with passwd, group and os-release" }],
    },
  };
}
