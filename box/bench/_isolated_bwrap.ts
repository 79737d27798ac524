/**
 * bubblewrap run directly with box's own isolation (the informative row beside bare bubblewrap):
 * the namespaces a default box unshares (user, pid with the command as pid 1, ipc, uts, cgroup,
 * net), its seccomp filter, its capability set, uid and gid 0, its hostname and environment, and
 * the image's rootfs under a writable overlay mounted ahead (as box's launcher keeps one ready),
 * then `echo x`. What separates this row from bare bubblewrap is isolation bubblewrap does for
 * box; what separates box's start from this row is box's own (Deno's bookkeeping, the launcher,
 * the agent as pid 1 and its tee, the ready byte). Needs root (the overlay mount).
 */
import { join } from "node:path";
import { mountOverlaySync, unmountSync } from "../drivers/_mount.ts";
import { buildSeccompFilter } from "../drivers/seccomp.ts";
import { firstByteAndExit } from "./_bare_bwrap.ts";
import { capabilityArgs, resolveNamespaceSecurity } from "../drivers/namespace_security.ts";

/** An overlay of `rootfs` in `dir` and bubblewrap's arguments for a box-like start on it. */
export interface IsolatedBwrap {
  /** Spawns it, calls `onFirstByte` when its output's first byte arrives, awaits its exit. */
  firstByte(onFirstByte: () => void): Promise<void>;
  /** Unmounts the overlay and removes `dir`'s contents. */
  close(): void;
}

/** Mounts the overlay under `dir` (fresh, removed by `close`) and returns the runner. */
export function isolatedBwrap(rootfs: string, dir: string): IsolatedBwrap {
  const [upper, work, merged] = ["upper", "work", "merged"].map((name) => join(dir, name));
  for (const path of [upper, work, merged]) Deno.mkdirSync(path, { recursive: true });
  if (!mountOverlaySync(rootfs, upper, work, merged)) {
    throw new Error(`cannot mount an overlay of ${rootfs} on ${merged}`);
  }
  const filter = buildSeccompFilter();
  const security = resolveNamespaceSecurity({ network: "none" });
  const args = [
    // The filter comes on stdin (fd 0), which Deno can hand a child, as box's launcher hands it fd 9.
    "--seccomp",
    "0",
    "--unshare-user",
    "--unshare-pid",
    "--as-pid-1",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--unshare-net",
    "--die-with-parent",
    "--hostname",
    "bench",
    "--uid",
    "0",
    "--gid",
    "0",
    ...capabilityArgs(security),
    "--bind",
    merged,
    "/",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--setenv",
    "HOME",
    "/root",
    "/bin/echo",
    "x",
  ];
  return {
    async firstByte(onFirstByte) {
      const child = new Deno.Command("bwrap", {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(filter);
      await writer.close();
      await firstByteAndExit(child, onFirstByte);
    },
    close() {
      unmountSync(merged);
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
