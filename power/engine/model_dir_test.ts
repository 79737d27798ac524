import { assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { readModelDir } from "./model_dir.ts";

/** A model directory with `files` (path → text) and an empty ONNX file. */
async function modelDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "a3s-model" });
  await Deno.mkdir(join(dir, "onnx"));
  await Deno.writeFile(join(dir, "onnx", "model.onnx"), new Uint8Array(8));
  for (const [path, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, path), text);
  return dir;
}

Deno.test("a model's JSON files that are no objects are an invalid model, not a crash", async () => {
  for (
    const [file, text] of [["config.json", "null"], ["config.json", "[1]"], [
      "generation_config.json",
      '"x"',
    ]]
  ) {
    const dir = await modelDir({ "config.json": "{}", [file]: text });
    try {
      const error = await assertRejects(() => readModelDir(dir), Error, "is not a JSON object");
      assertEquals((error as { status?: number }).status, 400);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("odd shapes inside a model's config fall back instead of failing", async () => {
  const dir = await modelDir({
    "config.json": JSON.stringify({ model_type: "llama", text_config: "x", eos_token_id: ["a"] }),
    "tokenizer_config.json": JSON.stringify({
      chat_template: [null, 7, { name: "default", template: "{{ messages }}" }],
    }),
  });
  try {
    const manifest = await readModelDir(dir);
    assertEquals(manifest.chatTemplate, "{{ messages }}");
    assertEquals(manifest.contextLength, 2048);
    assertEquals(manifest.eosTokenIds, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
