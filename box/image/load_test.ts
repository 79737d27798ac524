import { assertEquals, assertRejects } from "@a3s/common/testing";
import { testHome } from "../_test_support.ts";
import { writeTar } from "./tar.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A tarball of `files` (path → content), as `box load` reads. */
function archive(files: Record<string, string>): Uint8Array {
  return writeTar(
    Object.entries(files).map(([path, content]) => ({ path, type: "file", data: text(content) })),
  );
}

Deno.test("an archive whose JSON is no image is refused as a 400 naming the file and field", async () => {
  const home = await testHome();
  const cases: [Record<string, string>, string][] = [
    [{ "manifest.json": "{oops" }, "the archive's manifest.json is not JSON"],
    [{ "manifest.json": '{"Config":"c.json"}' }, "the archive's manifest.json is invalid"],
    [
      { "manifest.json": '[{"Config":"c.json","Layers":[]}]', "c.json": '{"config":{"Cmd":"sh"}}' },
      "c.json is invalid: config.Cmd",
    ],
    [{ "index.json": '{"schemaVersion":2,"manifests":null}' }, "index.json is invalid: manifests"],
  ];
  try {
    for (const [files, message] of cases) {
      const error = await assertRejects(() => home.images.load(archive(files)), Error, message);
      assertEquals((error as { status?: number }).status, 400, message);
    }
    assertEquals(await home.images.list(), []);
  } finally {
    await home.close();
  }
});
