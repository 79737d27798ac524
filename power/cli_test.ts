import { assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { ModelStore } from "./models/store.ts";
import { main } from "./cli.ts";

const TINY = fileURLToPath(new URL("./testdata/tiny", import.meta.url));

Deno.test("power CLI: pull, list, show, cp, run, rm and usage errors", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-cli-" });
  // Port 9 (discard) has no a3s server, so `run` uses the engine in this process.
  const flags = ["--home", home, "--port", "9"];
  try {
    assertEquals(await main([]), 2);
    assertEquals(await main(["bogus", ...flags]), 2);
    assertEquals(await main(["show", ...flags]), 2);
    assertEquals(await main(["pull", TINY, "--name", "mini", ...flags]), 0);
    assertEquals(await main(["cp", "mini", "mini:copy", ...flags]), 0);
    assertEquals(await main(["list", ...flags]), 0);
    assertEquals(await main(["show", "mini:copy", ...flags]), 0);
    const store = new ModelStore(`${home}/models`);
    assertEquals((await store.list()).map((m) => m.name).sort(), ["mini:copy", "mini:latest"]);
    assertEquals(
      await main(["run", "mini", "hello", "--max-tokens", "4", "--seed", "1", ...flags]),
      0,
    );
    assertEquals(await main(["run", "mini", "hi", "--max-tokens", "0", ...flags]), 2);
    assertEquals(await main(["run", "missing", "hi", ...flags]), 2);
    assertEquals(await main(["rm", "mini:copy", ...flags]), 0);
    assertEquals((await store.list()).map((m) => m.name), ["mini:latest"]);
    assertEquals(await main(["rm", "mini:copy", ...flags]), 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** Runs the CLI and returns its exit code and what it printed to stdout. */
async function captured(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    return { code: await main(args), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("power CLI: list and show take --format json|table and --json", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-cli-format-" });
  const flags = ["--home", home, "--port", "9"];
  try {
    assertEquals(await main(["pull", TINY, "--name", "mini", ...flags]), 0);
    const listed = await captured(["list", "--format", "json", ...flags]);
    assertEquals(listed.code, 0);
    const models = JSON.parse(listed.out);
    assertEquals(models.map((m: { name: string }) => m.name), [
      "a3s-default:latest",
      "mini:latest",
    ]);
    assertEquals(typeof models[0].size, "number");
    const short = await captured(["list", "--json", ...flags]);
    assertEquals(JSON.parse(short.out), models);
    const table = await captured(["list", "--format", "table", ...flags]);
    assertEquals(table.out.split("\n")[0].split(/\s+/), ["NAME", "ID", "SIZE", "MODIFIED"]);
    const shown = await captured(["show", "mini", "--json", ...flags]);
    assertEquals(JSON.parse(shown.out).contextLength, 512);
    assertEquals(await main(["list", "--format", "yaml", ...flags]), 2);
    assertEquals(await main(["show", "mini", "--json", "--format", "table", ...flags]), 2);
    assertEquals(await main(["run", "mini", "hi", "--format", "table", ...flags]), 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("power CLI: a bad power section in the config file is one line and exit 2", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-cli-config-" });
  try {
    await Deno.writeTextFile(`${home}/config.json`, JSON.stringify({ power: { concurrency: 0 } }));
    assertEquals(await main(["list", "--home", home, "--port", "9"]), 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
