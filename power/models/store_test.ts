import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { zipSync } from "fflate";
import { A3sError, NotFoundError } from "@a3s/common";
import { ModelStore, type PullProgress } from "./store.ts";
import { normalizeName } from "./names.ts";

const TINY = fileURLToPath(new URL("../testdata/tiny", import.meta.url));

Deno.test("names get the latest tag and unsafe names are refused", () => {
  assertEquals(normalizeName("tiny"), "tiny:latest");
  assertEquals(normalizeName("org/tiny:q4"), "org/tiny:q4");
  for (const bad of ["../x", "", "a b", ":tag"]) {
    let error: unknown;
    try {
      normalizeName(bad);
    } catch (e) {
      error = e;
    }
    assert(error instanceof A3sError && error.status === 400, bad);
  }
});

Deno.test("pull from a zip, copy, list, remove", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-store-" });
  try {
    const store = new ModelStore(home, { tiny: TINY });
    const zip = `${home}/tiny.zip`;
    const files: Record<string, Uint8Array> = {};
    for (
      const name of [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "onnx/model.onnx",
      ]
    ) {
      files[`tiny/${name}`] = await Deno.readFile(join(TINY, name));
    }
    await Deno.writeFile(zip, zipSync(files));
    const progress: PullProgress[] = [];
    const pulled = await store.pull(zip, "zipped", { onProgress: (p) => progress.push(p) });
    assertEquals(pulled.name, "zipped:latest");
    assertEquals(progress.map((p) => p.status).at(-1), "success");
    assert(progress.some((p) => p.total === pulled.size && p.completed === pulled.size));
    await store.copy("zipped", "copied:v1");
    assertEquals((await store.list()).map((m) => m.name).sort(), [
      "copied:v1",
      "tiny:latest",
      "zipped:latest",
    ]);
    await store.remove("copied:v1");
    await assertRejects(() => store.get("copied:v1"), NotFoundError);
    const builtin = await assertRejects(() => store.remove("tiny"), A3sError);
    assert(builtin instanceof A3sError && builtin.status === 400);
    const missing = await assertRejects(() => store.pull(`${home}/nope`, "x"), A3sError);
    assert(missing instanceof A3sError && missing.status === 404);
    await Deno.writeFile(`${home}/evil.zip`, zipSync({ "../evil/config.json": new Uint8Array(2) }));
    const evil = await assertRejects(() => store.pull(`${home}/evil.zip`, "evil"), A3sError);
    assert(evil instanceof A3sError && evil.status === 400, String(evil));
    await Deno.writeTextFile(`${home}/junk.tar`, "not a tar");
    const junk = await assertRejects(() => store.pull(`${home}/junk.tar`, "junk"), A3sError);
    assert(junk instanceof A3sError && junk.status === 400);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
