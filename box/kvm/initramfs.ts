/**
 * The initramfs a kvm box boots: the image's rootfs, the guest agent as `/init`, the virtio
 * modules it loads (virtio-mmio transport and the console), and the box's command, environment
 * and timeout under `/a3s`, laid out exactly as the qemu driver's, so the same agent runs in
 * both. The image part is cached per rootfs, agent and kernel; each box appends its own archive
 * (the kernel unpacks concatenated cpio archives in order).
 */
import { basename, join } from "node:path";
import {
  type CpioEntry,
  directoryEntries,
  S_IFCHR,
  S_IFDIR,
  S_IFREG,
  writeCpio,
} from "../drivers/cpio.ts";
import type { BoxSpec } from "../types.ts";
import { exists } from "../_exists.ts";

/** Kernel modules the agent loads on the kvm VMM, in dependency order. */
export const KVM_GUEST_MODULES: readonly string[] = [
  "kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio.ko",
  "kernel/drivers/virtio/virtio_mmio.ko",
  "kernel/drivers/char/virtio_console.ko",
];
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const encoder = new TextEncoder();

/** The cached image part: rootfs, agent as /init, modules and their load list. */
export async function baseInitramfs(
  options: { rootfs: string; agent: string; modulesDir: string; cacheDir: string },
): Promise<string> {
  await Deno.mkdir(options.cacheDir, { recursive: true });
  const key = [options.rootfs, options.agent, options.modulesDir].map((p) => basename(p)).join("-");
  const path = join(options.cacheDir, `${key}.cpio`);
  if (await exists(path)) return path;
  const entries = (await directoryEntries(options.rootfs)).filter((e) => e.path !== "init");
  const extra: CpioEntry[] = [
    { path: "init", mode: S_IFREG | 0o755, data: await Deno.readFile(options.agent) },
    { path: "dev", mode: S_IFDIR | 0o755 },
    { path: "dev/console", mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { path: "lib", mode: S_IFDIR | 0o755 },
    { path: "lib/a3s-modules", mode: S_IFDIR | 0o755 },
    { path: "a3s", mode: S_IFDIR | 0o755 },
    {
      path: "a3s/modules",
      mode: S_IFREG | 0o644,
      data: encoder.encode(
        KVM_GUEST_MODULES.map((m) => `/lib/a3s-modules/${basename(m)}\n`).join(""),
      ),
    },
  ];
  for (const module of KVM_GUEST_MODULES) {
    extra.push({
      path: `lib/a3s-modules/${basename(module)}`,
      mode: S_IFREG | 0o644,
      data: await Deno.readFile(join(options.modulesDir, module)),
    });
  }
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(temp, writeCpio([...entries, ...extra]));
  await Deno.rename(temp, path);
  return path;
}

/** The box's own archive: its command, environment, timeout and output lines, which the agent reads. */
export function boxArchive(spec: BoxSpec): Uint8Array {
  const env = { PATH: DEFAULT_PATH, HOME: "/root", ...spec.env };
  return writeCpio([
    { path: "a3s", mode: S_IFDIR | 0o755 },
    {
      path: "a3s/cmd",
      mode: S_IFREG | 0o644,
      data: encoder.encode(spec.command.map((a) => `${a}\0`).join("")),
    },
    {
      path: "a3s/env",
      mode: S_IFREG | 0o644,
      data: encoder.encode(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join("")),
    },
    {
      path: "a3s/timeout",
      mode: S_IFREG | 0o644,
      data: encoder.encode(`${spec.timeoutSeconds ?? 0}\0`),
    },
    // The main command's stdout and stderr lines: the VMM's COM3 and COM4 (see vmm_process.ts).
    { path: "a3s/output", mode: S_IFREG | 0o644, data: encoder.encode("/dev/ttyS2\0/dev/ttyS3\0") },
  ]);
}

/** Writes base + box archive to `path`. */
export async function writeBoxInitramfs(path: string, base: string, spec: BoxSpec): Promise<void> {
  const out = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await (await Deno.open(base)).readable.pipeTo(out.writable, { preventClose: true });
    const archive = boxArchive(spec);
    let written = 0;
    while (written < archive.length) written += await out.write(archive.subarray(written));
  } finally {
    out.close();
  }
}
