import { openStore } from "@a3s/common";
import { assert, assertEquals } from "@a3s/common/testing";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { addPath, addUrl } from "./ingest.ts";
import { extractText } from "./extract.ts";
import { openLocalIndex } from "./local_index.ts";
import { toFileUrl } from "./_file_url.ts";

const MAN_PAGE = `.\\" Copyright notice
.TH LS 1 "2024" "GNU coreutils" "User Commands"
.SH NAME
ls \\- list directory contents
.SH SYNOPSIS
.B ls
[\\fIOPTION\\fR]... [\\fIFILE\\fR]...
.SH DESCRIPTION
List information about the FILEs (the current directory by default).
.TP
\\fB\\-a\\fR, \\fB\\-\\-all\\fR
do not ignore entries starting with .
`;

Deno.test("extractText reads man pages, gzip, HTML and Markdown, and refuses binaries", () => {
  const man = extractText(
    "/usr/share/man/man1/ls.1.gz",
    gzipSync(new TextEncoder().encode(MAN_PAGE)),
  );
  assertEquals(man?.title, "ls - list directory contents");
  assert(man?.body.includes("List information about the FILEs"));
  assert(man?.body.includes("-a, --all"), man?.body);
  assert(!man?.body.includes("\\f"), man?.body);
  assert(!man?.body.includes("Copyright notice"));

  const page = extractText(
    "/x/page.html",
    new TextEncoder().encode(
      "<html><head><title>Page title</title><script>var secret=1</script></head><body><nav>menu</nav><p>Hello <b>world</b></p></body></html>",
    ),
  );
  assertEquals(page?.title, "Page title");
  assert(page?.body.includes("Hello world"));
  assert(!page?.body.includes("secret"));

  assertEquals(
    extractText("/x/a.md", new TextEncoder().encode("intro\n## Install\ntext"))?.title,
    "Install",
  );
  assertEquals(
    extractText("/x/b.txt", new TextEncoder().encode("\n\nFirst line\nrest"))?.title,
    "First line",
  );
  assertEquals(extractText("/x/c.bin", new Uint8Array([1, 2, 0, 3])), undefined);
  assertEquals(extractText("/x/d.gz", new Uint8Array([1, 2, 3])), undefined);
});

Deno.test("addPath indexes a tree, and re-adding it updates changed and removes deleted files", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await Deno.mkdir(join(dir, "sub"));
    await Deno.mkdir(join(dir, ".git"));
    await Deno.writeTextFile(join(dir, "a.md"), "# Alpha\nThe aardvark eats ants.");
    await Deno.writeTextFile(join(dir, "sub", "b.txt"), "Bees make honey.");
    await Deno.writeTextFile(join(dir, ".git", "HEAD"), "ref: refs/heads/main");
    await Deno.writeFile(join(dir, "blob.bin"), new Uint8Array([0, 1, 2]));
    const index = await openLocalIndex(store);

    const first = await addPath(index, dir);
    assertEquals(first, { added: 2, updated: 0, unchanged: 0, skipped: 1, removed: 0 });
    const [hit] = await index.search("aardvark");
    assertEquals(hit.uri, toFileUrl(join(dir, "a.md")));
    assertEquals(hit.title, "Alpha");

    await Deno.writeTextFile(join(dir, "a.md"), "# Alpha\nThe anteater eats ants.");
    await Deno.remove(join(dir, "sub", "b.txt"));
    const second = await addPath(index, dir);
    assertEquals(second, { added: 0, updated: 1, unchanged: 0, skipped: 1, removed: 1 });
    assertEquals(await index.search("aardvark"), []);
    assertEquals((await index.search("anteater")).length, 1);
    assertEquals(await index.search("honey"), []);

    const third = await addPath(index, join(dir, "a.md"));
    assertEquals(third.unchanged, 1);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("addUrl fetches a page once and indexes its text under its URL", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const controller = new AbortController();
  let hits = 0;
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen() {},
  }, (req) => {
    hits++;
    if (new URL(req.url).pathname === "/missing") return new Response("no", { status: 404 });
    return new Response(
      "<!doctype html><html><head><title>Zebra facts</title></head><body><p>Zebras have stripes.</p></body></html>",
      { headers: { "content-type": "text/html" } },
    );
  });
  try {
    const index = await openLocalIndex(store);
    const url = `http://127.0.0.1:${server.addr.port}/zebra`;
    assertEquals((await addUrl(index, url)).added, 1);
    const [hit] = await index.search("stripes");
    assertEquals([hit.uri, hit.title], [url, "Zebra facts"]);
    assertEquals(hits, 1);
    let failed = false;
    await addUrl(index, `http://127.0.0.1:${server.addr.port}/missing`).catch(() => failed = true);
    assert(failed);
  } finally {
    controller.abort();
    await server.finished;
    await store.close();
  }
});
