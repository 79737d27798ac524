import { assertEquals } from "@a3s/common/testing";
import { detectTee, type TeeProbeOptions } from "./tee.ts";

/** A fake tree whose sysfs lists `name` as the misc device `registered`. */
async function fakeRoot(name: string, registered: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "a3s-tee-" });
  await Deno.mkdir(`${root}/dev`);
  await Deno.mkdir(`${root}/sys/class/misc/${name}`, { recursive: true });
  await Deno.writeTextFile(`${root}/sys/class/misc/${name}/dev`, `${registered}\n`);
  return root;
}

/** An lstat that reports a character device numbered `major:minor` at every path. */
function charDevice(major: number, minor: number, isSymlink = false): TeeProbeOptions["lstat"] {
  return () => ({ isCharDevice: !isSymlink, isSymlink, rdev: (major << 8) | minor });
}

Deno.test("a symlink to /dev/null named sev-guest is no TEE, though /dev/null is a character device", async () => {
  const root = await fakeRoot("sev-guest", "1:3");
  try {
    // Before, statSync followed the link and took /dev/null for the guest driver's device.
    await Deno.symlink("/dev/null", `${root}/dev/sev-guest`);
    assertEquals(detectTee({ root }), { kind: null, device: null });
    assertEquals(detectTee(root), { kind: null, device: null });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a TEE is a misc character device that sysfs registers under the guest driver's name", async () => {
  const root = await fakeRoot("sev-guest", "10:123");
  try {
    const found = detectTee({ root, lstat: charDevice(10, 123) });
    assertEquals(found, { kind: "sev-snp", device: `${root}/dev/sev-guest` });
    // Another device mapped in under the name (`--device /dev/null:/dev/sev-guest`).
    assertEquals(detectTee({ root, lstat: charDevice(1, 3) }).kind, null);
    // A misc device that is not the one the kernel registered as sev-guest (/dev/fuse, say).
    assertEquals(detectTee({ root, lstat: charDevice(10, 229) }).kind, null);
    assertEquals(detectTee({ root, lstat: charDevice(10, 123, true) }).kind, null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TDX is told by /dev/tdx_guest and its sysfs entry", async () => {
  const root = await fakeRoot("tdx_guest", "10:124");
  try {
    const lstat: TeeProbeOptions["lstat"] = (path) => {
      if (!path.endsWith("tdx_guest")) throw new Deno.errors.NotFound(path);
      return charDevice(10, 124)!(path);
    };
    assertEquals(detectTee({ root, lstat }).kind, "tdx");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detection reads no environment variable: only a caller's test option moves the root", async () => {
  const root = await fakeRoot("sev-guest", "10:123");
  const previous = Deno.env.get("A3S_SAFECLAW_TEE_ROOT");
  try {
    Deno.env.set("A3S_SAFECLAW_TEE_ROOT", root);
    assertEquals(detectTee().device === `${root}/dev/sev-guest`, false);
  } finally {
    if (previous === undefined) Deno.env.delete("A3S_SAFECLAW_TEE_ROOT");
    else Deno.env.set("A3S_SAFECLAW_TEE_ROOT", previous);
    await Deno.remove(root, { recursive: true });
  }
});
