/**
 * Bare bubblewrap on the same rootfs, the baseline both start benches measure box against:
 * the namespaces box unshares, the rootfs read-only, `/proc` and `/dev`, and `echo x`.
 */

/** Spawns bare bubblewrap, calls `onFirstByte` when its output's first byte arrives, and awaits its exit. */
export async function bareBwrapFirstByte(rootfs: string, onFirstByte: () => void): Promise<void> {
  const child = new Deno.Command("bwrap", {
    args: [
      "--unshare-all",
      "--unshare-user",
      "--die-with-parent",
      "--ro-bind",
      rootfs,
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "/bin/echo",
      "x",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  await firstByteAndExit(child, onFirstByte);
}

/** Calls `onFirstByte` when `child`'s stdout brings its first byte, then awaits its exit. */
export async function firstByteAndExit(
  child: Deno.ChildProcess,
  onFirstByte: () => void,
): Promise<void> {
  const reader = child.stdout.getReader();
  await reader.read();
  onFirstByte();
  reader.releaseLock();
  await child.stdout.cancel();
  await child.status;
}
