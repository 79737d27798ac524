import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";

const CLI = new URL("./cli.ts", import.meta.url).pathname;

async function search(home: string, ...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args, "--home", home],
    env: { A3S_LOG_LEVEL: "silent", A3S_DATABASE_URL: "" },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout), err: decode(output.stderr) };
}

Deno.test("CLI: index add, search as table and JSON, index ls and rm, usage errors", async () => {
  const home = await Deno.makeTempDir({ prefix: "search_cli_" });
  try {
    const docs = join(home, "docs");
    await Deno.mkdir(docs);
    await Deno.writeTextFile(
      join(docs, "queues.md"),
      "# Queues\nPriority lanes schedule agent jobs.",
    );
    await Deno.writeTextFile(join(docs, "box.md"), "# Sandbox\nBubblewrap isolates the tools.");

    const added = await search(home, "index", "add", docs);
    assertEquals(added.code, 0, added.err);
    assert(added.out.includes("2 added"), added.out);

    const table = await search(home, "priority", "lanes");
    assertEquals(table.code, 0, table.err);
    assert(/^#\s+TITLE\s+URL\s+ENGINES\s+SCORE$/m.test(table.out), table.out);
    assert(/^1\s+Queues\s+file:\/\/.*queues\.md\s+local\s/m.test(table.out), table.out);
    assert(table.err.includes("engines: local 1"), table.err);

    const json = await search(home, "bubblewrap", "--json", "--limit", "5");
    assertEquals(json.code, 0, json.err);
    const answer = JSON.parse(json.out);
    assertEquals(answer.results.length, 1);
    assert(answer.results[0].url.endsWith("box.md"));
    assertEquals(answer.engines[0].engine, "local");

    const ls = await search(home, "index", "ls", "--format", "json");
    const listed = JSON.parse(ls.out);
    assertEquals([listed.backend, listed.count], ["sqlite-fts5", 2]);

    const rm = await search(home, "index", "rm", join(docs, "box.md"));
    assert(rm.out.includes("1 removed"), rm.out);
    const after = await search(home, "bubblewrap", "--format", "json");
    assertEquals(JSON.parse(after.out).results, []);

    for (
      const bad of [
        [],
        ["q", "--format", "yaml"],
        ["q", "--limit", "x"],
        ["q", "--engines", "altavista"],
        ["index", "rm"],
        ["index", "add", join(home, "missing")],
        ["q", "--bogus"],
      ]
    ) {
      const result = await search(home, ...bad);
      assertEquals(result.code, 2, `${bad.join(" ")}: ${result.err}`);
      assertEquals(result.err.trim().split("\n").length, 1, result.err);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
