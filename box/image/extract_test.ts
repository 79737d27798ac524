import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { extractLayer } from "./extract.ts";
import { readTar, writeTar } from "./tar.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function withRoot(body: (root: string, outside: string) => Promise<void>) {
  const base = await Deno.makeTempDir({ prefix: "a3sx" });
  const root = join(base, "root");
  const outside = join(base, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  try {
    await body(root, outside);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test("tar round trip keeps long names, links and modes", () => {
  const long = `${"d".repeat(120)}/file.txt`;
  const tar = writeTar([
    { path: long, type: "file", mode: 0o640, data: text("x") },
    { path: "link", type: "symlink", linkname: "/etc/passwd" },
    { path: "dir", type: "dir", mode: 0o700 },
  ]);
  const entries = [...readTar(tar)];
  assertEquals(entries.map((e) => [e.path, e.type, e.mode]), [
    [long, "file", 0o640],
    ["link", "symlink", 0o644],
    ["dir/", "dir", 0o700],
  ]);
  assertEquals(entries[1].linkname, "/etc/passwd");
});

Deno.test("a corrupt header is refused, not misread", () => {
  const tar = writeTar([{ path: "a", type: "file", data: text("x") }]);
  tar[10] ^= 0xff;
  let message = "";
  try {
    [...readTar(tar)];
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.includes("checksum"), message);
});

Deno.test("extraction refuses paths that climb out of the root", async () => {
  await withRoot(async (root, outside) => {
    for (const path of ["../outside/pwned", "a/../../outside/pwned", "/../outside/pwned"]) {
      await assertRejects(
        () => extractLayer(writeTar([{ path, type: "file", data: text("x") }]), root),
        Error,
        "escapes the root",
      );
    }
    assertEquals([...Deno.readDirSync(outside)], []);
  });
});

Deno.test("extraction never writes through a symlink, even one made earlier", async () => {
  await withRoot(async (root, outside) => {
    const layer = writeTar([
      { path: "etc", type: "dir" },
      { path: "escape", type: "symlink", linkname: outside },
      { path: "escape/pwned", type: "file", data: text("x") },
    ]);
    await assertRejects(() => extractLayer(layer, root), Error, "symlink");
    // A directory replaced by a symlink in a later entry is not trusted either.
    const swap = writeTar([
      { path: "d", type: "dir" },
      { path: "d/ok", type: "file", data: text("1") },
      { path: "d", type: "symlink", linkname: outside },
      { path: "d/pwned", type: "file", data: text("2") },
    ]);
    await assertRejects(() => extractLayer(swap, root), Error, "symlink");
    const hardlink = writeTar([{ path: "h", type: "hardlink", linkname: "../outside/x" }]);
    await assertRejects(() => extractLayer(hardlink, root), Error, "escapes the root");
    assertEquals([...Deno.readDirSync(outside)], []);
  });
});

Deno.test("device nodes are skipped and setuid bits dropped", async () => {
  await withRoot(async (root) => {
    const layer = writeTar([{ path: "bin/su", type: "file", mode: 0o4755, data: text("x") }]);
    // Patch a device entry in by hand: writeTar only writes the kinds images should carry.
    const device = writeTar([{ path: "dev/sda", type: "file" }]);
    device[156] = "3".charCodeAt(0);
    let sum = 0;
    device.fill(32, 148, 156);
    for (let i = 0; i < 512; i++) sum += device[i];
    device.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    const report = await extractLayer(
      new Uint8Array([...layer.subarray(0, 1024), ...device]),
      root,
    );
    assertEquals(report.skipped, ["dev/sda"]);
    assertEquals((await Deno.stat(join(root, "bin/su"))).mode! & 0o7777, 0o755);
  });
});

Deno.test("whiteouts delete files and opaque directories from lower layers", async () => {
  await withRoot(async (root) => {
    await extractLayer(
      writeTar([
        { path: "a/keep", type: "file", data: text("1") },
        { path: "a/gone", type: "file", data: text("2") },
        { path: "b/old", type: "file", data: text("3") },
      ]),
      root,
    );
    await extractLayer(
      writeTar([
        { path: "a/.wh.gone", type: "file" },
        { path: "b/.wh..wh..opq", type: "file" },
        { path: "b/new", type: "file", data: text("4") },
      ]),
      root,
    );
    assertEquals([...Deno.readDirSync(join(root, "a"))].map((e) => e.name), ["keep"]);
    assertEquals([...Deno.readDirSync(join(root, "b"))].map((e) => e.name), ["new"]);
  });
});
