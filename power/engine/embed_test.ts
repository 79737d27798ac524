import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { A3sError } from "@a3s/common";
import { ModelRegistry } from "../models/registry.ts";
import { Power } from "../service.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../testdata/${name}`, import.meta.url));

Deno.test("a BERT-like encoder embeds with mean pooling into unit vectors", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-embed-" });
  const power = new Power({
    home,
    models: { encoder: fixture("tiny-encoder"), tiny: fixture("tiny") },
    noDefaultModel: true,
  });
  try {
    const texts = ["The cat sat on the mat", "the cat sat on the mat", "Hello world"];
    const result = await power.embed("encoder", texts);
    assertEquals(result.embeddings.length, 3);
    for (const v of result.embeddings) {
      assertEquals(v.length, 32);
      assert(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    }
    // The normalizer lowercases, so case does not change the vector.
    assertEquals(result.embeddings[0], result.embeddings[1]);
    assert(JSON.stringify(result.embeddings[0]) !== JSON.stringify(result.embeddings[2]));
    // [CLS] and [SEP] are added around each text.
    assertEquals(result.promptTokens, 8 + 8 + 4);
    const registry = new ModelRegistry(power.store);
    assertEquals((await registry.load("encoder")).model.pooling, "mean");
    await registry.close();

    const decoderVectors = await power.embed("tiny", ["hello"]);
    assertEquals(decoderVectors.embeddings[0].length, 32);

    const error = await assertRejects(
      () =>
        power.complete(
          power.chat({ model: "encoder", messages: [{ role: "user", content: "hi" }] }),
        ),
      A3sError,
    );
    assert(error instanceof A3sError && error.status === 400, String(error));
  } finally {
    await power.close();
    await Deno.remove(home, { recursive: true });
  }
});
