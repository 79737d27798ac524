/**
 * The kvm box's initramfs, read back as the kernel reads it (newc cpio archives, concatenated):
 * the busybox image's rootfs, the real guest agent as /init, Debian's virtio modules and the
 * box's command, environment and timeout.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { buildAgent } from "../agent/build.ts";
import { extractLayer } from "../image/extract.ts";
import { busyboxImage } from "../image/busybox.ts";
import { baseInitramfs, boxArchive, KVM_GUEST_MODULES, writeBoxInitramfs } from "./initramfs.ts";

/** Every entry of concatenated newc archives: name and data. */
function readCpio(bytes: Uint8Array): Map<string, Uint8Array> {
  const entries = new Map<string, Uint8Array>();
  const text = (from: number, length: number) =>
    new TextDecoder().decode(bytes.subarray(from, from + length));
  const align = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 110 <= bytes.length;) {
    if (text(at, 6) !== "070701") {
      at += 4; // padding between archives
      continue;
    }
    const fileSize = parseInt(text(at + 54, 8), 16);
    const nameSize = parseInt(text(at + 94, 8), 16);
    const name = text(at + 110, nameSize - 1);
    const dataAt = align(at + 110 + nameSize);
    if (name !== "TRAILER!!!") entries.set(name, bytes.slice(dataAt, dataAt + fileSize));
    at = align(dataAt + fileSize);
  }
  return entries;
}

const kernel = [...Deno.readDirSync("/boot")].map((e) => e.name)
  .filter((n) => n.startsWith("vmlinuz-")).sort().at(-1);
const modulesDir = kernel ? `/lib/modules/${kernel.replace(/^vmlinuz-/, "")}` : undefined;
const skip = !modulesDir || !Deno.statSync(modulesDir).isDirectory;
if (skip) console.log("SKIPPED: kvm initramfs: no kernel modules (install linux-image-amd64)");

Deno.test({
  name: "kvm initramfs: image, agent as /init, virtio modules, the box's command",
  ignore: skip,
}, async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3skir" });
  try {
    const { layer } = await busyboxImage();
    const rootfs = join(dir, "rootfs");
    await Deno.mkdir(rootfs);
    await extractLayer(layer, rootfs);
    const agent = await buildAgent("/tmp/a3s-box-test-agent");
    const base = await baseInitramfs({
      rootfs,
      agent,
      modulesDir: modulesDir!,
      cacheDir: join(dir, "cache"),
    });
    assertEquals(
      await baseInitramfs({ rootfs, agent, modulesDir: modulesDir!, cacheDir: join(dir, "cache") }),
      base,
      "cached",
    );
    const spec = {
      id: "b",
      rootfs,
      stateDir: dir,
      command: ["sh", "-c", "echo hi"],
      env: { A: "1" },
      volumes: [],
      limits: {},
      network: "none" as const,
      timeoutSeconds: 30,
    };
    const path = join(dir, "initramfs.cpio");
    await writeBoxInitramfs(path, base, spec);
    const entries = readCpio(await Deno.readFile(path));
    assertEquals(entries.get("init"), await Deno.readFile(agent));
    assert(entries.has("bin/busybox"));
    for (const module of KVM_GUEST_MODULES) {
      const name = `lib/a3s-modules/${module.split("/").pop()}`;
      assertEquals(entries.get(name)?.length, (await Deno.stat(join(modulesDir!, module))).size);
    }
    const decode = (name: string) => new TextDecoder().decode(entries.get(name));
    assertEquals(decode("a3s/cmd"), "sh\0-c\0echo hi\0");
    assert(decode("a3s/env").includes("A=1\0"));
    assertEquals(decode("a3s/timeout"), "30\0");
    assertEquals(decode("a3s/modules").trim().split("\n").length, KVM_GUEST_MODULES.length);
    assertEquals(decode("a3s/output"), "/dev/ttyS2\0/dev/ttyS3\0");
    assertEquals(readCpio(boxArchive(spec)).size, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
