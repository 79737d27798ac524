import { deepStrictEqual as assertEquals } from "node:assert";
import { getEncoding } from "./tiktoken.ts";
import { Engine, Split } from "./_engine.ts";
import { loadCorpus } from "./_test_corpus.ts";

Deno.test("engine memory stays flat over many calls once its buffers have grown", async () => {
  const engine = await Engine.create({
    split: Split.cl100k,
    jsFlavor: false,
    rankByBytes: true,
    byteLevel: true,
    ignoreMerges: true,
    unkId: -1,
  });
  const tokens = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  tokens.push(new TextEncoder().encode("ab"), new TextEncoder().encode(" the"));
  engine.loadVocab(tokens.map((_, i) => i), tokens);
  engine.setByteTables(Uint32Array.from({ length: 256 }, (_, b) => b), new Uint32Array(256));
  const text = (await loadCorpus()).join("\n").repeat(20);
  engine.count(text);
  engine.encodePiecesView(text.split(" "));
  engine.decodeText(engine.encodeView(text).slice());
  const settled = engine.memoryBytes;
  for (let i = 0; i < 200; i++) {
    engine.count(text);
    engine.encodePiecesView(text.split(" "));
    engine.decodeText(engine.encodeView(text).slice());
  }
  assertEquals(engine.memoryBytes, settled);
  assertEquals(Array.from(engine.encodeView("ab the")), [256, 257]);
  engine.free();
});

Deno.test("many tokenizers can be opened and freed in turn", async () => {
  for (let i = 0; i < 5; i++) {
    const enc = await getEncoding("r50k_base");
    assertEquals(enc.count("hello world"), 2);
    enc.free();
  }
});
