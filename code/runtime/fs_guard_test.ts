import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import { FileKindError, PathEscapeError, WorkspaceFiles } from "./fs_guard.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(r.success, "mkfifo failed");
}

async function withDirs(fn: (root: string, outside: string) => Promise<void>): Promise<void> {
  const root = Deno.realPathSync(await Deno.makeTempDir({ prefix: "a3s-fs-guard-" }));
  const outside = Deno.realPathSync(await Deno.makeTempDir({ prefix: "a3s-fs-outside-" }));
  try {
    await fn(root, outside);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

for (const useProc of [true, false]) {
  const mode = useProc ? "/proc/self/fd" : "path fallback";

  Deno.test(`fs_guard (${mode}): reads, writes, updates, lists and removes beneath the root`, () =>
    withDirs(async (root) => {
      const files = new WorkspaceFiles(root, { useProc });
      const before = openFds();
      assertEquals(await files.writeFile("a/b/c.txt", enc("one")), {
        created: true,
        rel: "a/b/c.txt",
      });
      assertEquals(await files.writeFile("a/b/c.txt", enc("two")), {
        created: false,
        rel: "a/b/c.txt",
      });
      // A symlink that stays inside is followed, and paths come back resolved.
      await Deno.symlink("a/b", `${root}/inner`);
      await Deno.symlink(`${root}/a/b/c.txt`, `${root}/abs_inner`);
      assertEquals(dec((await files.readFile("inner/c.txt", { maxBytes: 10 })).bytes), "two");
      assertEquals((await files.readFile("abs_inner", { maxBytes: 10 })).rel, "a/b/c.txt");
      assertEquals(files.stat("inner").rel, "a/b");
      assertEquals((await files.readFile(`${root}/a/b/c.txt`, { maxBytes: 2 })).bytes, undefined);
      await files.updateFile("inner/c.txt", (b) => enc(dec(b).toUpperCase()), { maxBytes: 10 });
      assertEquals(await Deno.readTextFile(`${root}/a/b/c.txt`), "TWO");
      assertEquals(dec(files.readHeadSync("a/b/c.txt", 2)), "TW");
      assertEquals((await files.list(".")).entries.map((e) => `${e.name}:${e.kind}`), [
        "a:directory",
        "abs_inner:symlink",
        "inner:symlink",
      ]);
      const walked: string[] = [];
      for await (const f of files.walk(".")) walked.push(`${f.rel}=${dec(await f.read(10))}`);
      assertEquals(walked, ["a/b/c.txt=TWO"]);
      assertEquals(files.remove("a/b/c.txt"), "a/b/c.txt");
      await assertRejects(
        () => files.readFile("a/b/c.txt", { maxBytes: 10 }),
        Deno.errors.NotFound,
      );
      assertEquals(openFds(), before, "every descriptor is closed");
    }));

  Deno.test(`fs_guard (${mode}): .., absolute paths and symlinks out of the root are refused`, () =>
    withDirs(async (root, outside) => {
      const files = new WorkspaceFiles(root, { useProc });
      await Deno.writeTextFile(`${outside}/secret.txt`, "s3cret");
      await Deno.symlink(outside, `${root}/out`);
      await Deno.symlink(`../${outside.split("/").pop()}/secret.txt`, `${root}/rel_out`);
      await Deno.mkdir(`${root}/sub`);
      await Deno.symlink("../../", `${root}/sub/up`);
      for (
        const path of ["../x", `${outside}/secret.txt`, "out/secret.txt", "rel_out", "sub/up/x"]
      ) {
        await assertRejects(() => files.readFile(path, { maxBytes: 100 }), PathEscapeError);
        await assertRejects(() => files.writeFile(path, enc("x")), PathEscapeError);
      }
      await assertRejects(() => files.writeFile("out/new/deep.txt", enc("x")), PathEscapeError);
      assertThrows(() => files.remove("out/secret.txt"), PathEscapeError);
      await assertRejects(() => files.list("out"), PathEscapeError);
      assertEquals([...Deno.readDirSync(outside)].map((e) => e.name), ["secret.txt"]);
      // A loop of links ends in an error, not a hang.
      await Deno.symlink("loop2", `${root}/loop1`);
      await Deno.symlink("loop1", `${root}/loop2`);
      await assertRejects(() => files.readFile("loop1", { maxBytes: 10 }), Error, "symbolic links");
    }));

  Deno.test(`fs_guard (${mode}): FIFOs and folders are refused at once, never opened to block`, () =>
    withDirs(async (root) => {
      const files = new WorkspaceFiles(root, { useProc });
      await mkfifo(`${root}/pipe`);
      await Deno.mkdir(`${root}/dir`);
      const started = performance.now();
      await assertRejects(() => files.readFile("pipe", { maxBytes: 10 }), FileKindError, "FIFO");
      await assertRejects(() => files.writeFile("pipe", enc("x")), FileKindError, "FIFO");
      await assertRejects(
        () => files.updateFile("pipe", (b) => b, { maxBytes: 10 }),
        FileKindError,
      );
      assertThrows(() => files.readHeadSync("pipe", 10), FileKindError, "FIFO");
      await assertRejects(
        () => files.readFile("dir", { maxBytes: 10 }),
        FileKindError,
        "directory",
      );
      const walked: string[] = [];
      for await (const f of files.walk(".")) walked.push(f.rel);
      assertEquals(walked, []);
      assert(performance.now() - started < 2_000, "nothing waited for a writer or a reader");
    }));
}

Deno.test("fs_guard: a concurrent swapper cannot move reads or writes out of the root", async () => {
  await withDirs(async (root, outside) => {
    const files = new WorkspaceFiles(root);
    await Deno.writeTextFile(`${outside}/x.txt`, "HOST-ONLY-SECRET");
    await Deno.mkdir(`${outside}/sub`);
    await Deno.writeTextFile(`${outside}/sub/x.txt`, "HOST-ONLY-SECRET");
    // What the sandbox can do concurrently: swap folder `d` between a real folder and a symlink
    // to a host folder, as fast as it can.
    const seconds = 3;
    const code = `const d = ${JSON.stringify(`${root}/d`)}; const out = ${
      JSON.stringify(outside)
    }; const end = Date.now() + ${seconds * 1000}; const t = (f) => { try { f(); } catch {} };
      while (Date.now() < end) {
        t(() => Deno.removeSync(d, { recursive: true }));
        t(() => { Deno.mkdirSync(d + "/sub", { recursive: true });
          Deno.writeTextFileSync(d + "/x.txt", "inside"); Deno.writeTextFileSync(d + "/sub/x.txt", "inside"); });
        t(() => Deno.removeSync(d, { recursive: true }));
        t(() => Deno.symlinkSync(out, d));
      }
      t(() => Deno.removeSync(d, { recursive: true }));`;
    const swapper = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let leaked = 0;
    let succeeded = 0;
    const count = (ok: boolean) => ok && succeeded++;
    const started = performance.now();
    while (performance.now() - started < (seconds - 0.5) * 1000) {
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        ops.push(files.writeFile(`d/w${i}.txt`, enc("pwned")).then(() => count(true), () => {}));
        ops.push(
          files.writeFile(`d/sub/w${i}.txt`, enc("pwned")).then(() => count(true), () => {}),
        );
        ops.push(
          files.readFile(`d/x.txt`, { maxBytes: 100 }).then((r) => {
            count(true);
            if (dec(r.bytes).includes("HOST-ONLY")) leaked++;
          }, () => {}),
        );
        ops.push(
          files.updateFile("d/sub/x.txt", (b) => {
            if (dec(b).includes("HOST-ONLY")) leaked++;
            return enc("pwned");
          }, { maxBytes: 100 }).then(() => count(true), () => {}),
        );
        ops.push((async () => {
          try {
            for await (const f of files.walk("d")) {
              if (dec(await f.read(100)).includes("HOST-ONLY")) leaked++;
            }
            if ((await files.list("d")).entries.some((e) => e.name === "x.txt")) count(true);
          } catch {
            // the folder was swapped: refused or gone
          }
        })());
      }
      await Promise.all(ops);
    }
    await swapper.status;
    assertEquals(leaked, 0, "no host file was read");
    assertEquals(
      [...Deno.readDirSync(outside)].map((e) => e.name).sort(),
      ["sub", "x.txt"],
      "no file was created outside the root",
    );
    assertEquals([...Deno.readDirSync(`${outside}/sub`)].map((e) => e.name), ["x.txt"]);
    assertEquals(await Deno.readTextFile(`${outside}/x.txt`), "HOST-ONLY-SECRET");
    assertEquals(await Deno.readTextFile(`${outside}/sub/x.txt`), "HOST-ONLY-SECRET");
    assert(succeeded > 0, "operations inside went through while the swap ran");
  });
});
