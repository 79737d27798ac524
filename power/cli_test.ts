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
