/**
 * mount(2) and umount2(2) through libc, so an overlay costs a system call rather than a
 * `mount` process per box (a spawn is most of a namespace box's start time otherwise). Falls
 * back to the `mount`/`umount` programs where FFI is not allowed.
 */

const MNT_DETACH = 2;

interface Libc {
  mount(source: string, target: string, type: string, options: string): number;
  umount(target: string, lazy: boolean): number;
}

let libc: Libc | null | undefined;

function cString(value: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(`${value}\0`);
  return bytes as Uint8Array<ArrayBuffer>;
}

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      mount: { parameters: ["buffer", "buffer", "buffer", "usize", "buffer"], result: "i32" },
      umount2: { parameters: ["buffer", "i32"], result: "i32" },
    });
    libc = {
      mount: (source, target, type, options) =>
        lib.symbols.mount(cString(source), cString(target), cString(type), 0n, cString(options)),
      umount: (target, lazy) => lib.symbols.umount2(cString(target), lazy ? MNT_DETACH : 0),
    };
  } catch {
    libc = null;
  }
  return libc;
}

async function program(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Mounts an overlay with a system call, without awaiting anything; undefined where FFI is not
 * allowed (then {@linkcode mountOverlay} runs the program).
 */
export function mountOverlaySync(
  lower: string,
  upper: string,
  work: string,
  target: string,
): boolean | undefined {
  const lib = loadLibc();
  if (!lib) return undefined;
  return lib.mount(
    "overlay",
    target,
    "overlay",
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
  ) === 0;
}

/** Mounts an overlay of `lower` (read-only) and `upper` at `target`. */
export async function mountOverlay(
  lower: string,
  upper: string,
  work: string,
  target: string,
): Promise<boolean> {
  const options = `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
  const lib = loadLibc();
  if (lib) return lib.mount("overlay", target, "overlay", options) === 0;
  return await program("mount", ["-t", "overlay", "overlay", "-o", options, target]);
}

/** Unmounts `target`, detaching it lazily if it is still busy. */
export async function unmount(target: string): Promise<boolean> {
  const lib = loadLibc();
  if (lib) return lib.umount(target, false) === 0 || lib.umount(target, true) === 0;
  return await program("umount", [target]) || await program("umount", ["-l", target]);
}

/**
 * Unmounts `target` lazily, synchronously (teardown paths that cannot await: an unload handler);
 * true when it was unmounted.
 */
export function unmountSync(target: string): boolean {
  const lib = loadLibc();
  if (lib) return lib.umount(target, true) === 0;
  return new Deno.Command("umount", { args: ["-l", target], stdout: "null", stderr: "null" })
    .outputSync().success;
}
