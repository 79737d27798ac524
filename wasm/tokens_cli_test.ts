import { assert, assertEquals } from "@a3s/common/testing";
import { get_encoding } from "tiktoken";
import { TokenizerLoader } from "@lenml/tokenizers";
import { FIXTURES } from "./tokenizer/_hf_fixtures.ts";

const CLI = new URL("../mod.ts", import.meta.url).pathname;

async function tokens(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "tokens", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

const TEXT = "Hello, wörld! <|endoftext|> 12345 😀\n";

Deno.test("tokens encode/count/decode from stdin agree with tiktoken", async () => {
  const reference = get_encoding("o200k_base");
  const encoded = await tokens(["encode", "--tokenizer", "o200k_base"], TEXT);
  assertEquals(encoded.code, 0, encoded.err);
  const ids = JSON.parse(encoded.out);
  assertEquals(ids, Array.from(reference.encode_ordinary(TEXT)));
  const allowed = await tokens(["encode", "--tokenizer", "o200k_base", "--special", "all"], TEXT);
  assertEquals(JSON.parse(allowed.out), Array.from(reference.encode(TEXT, "all")));
  const counted = await tokens(["count", "--tokenizer", "o200k_base"], TEXT);
  assertEquals(counted.out.trim(), String(ids.length));
  const decoded = await tokens(["decode", "--tokenizer", "o200k_base"], encoded.out);
  assertEquals(decoded.out, TEXT);
  reference.free();
});

Deno.test("tokens reads --file and loads a tokenizer.json path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/input.txt`;
    await Deno.writeTextFile(file, "aaa bbb");
    const tokenizer = {
      model: { type: "BPE", vocab: { a: 0, b: 1, " ": 2, aa: 3, aaa: 4 }, merges: ["a a", "aa a"] },
      added_tokens: [],
    };
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tokenizer));
    const encoded = await tokens(["encode", "--tokenizer", dir, "--file", file]);
    assertEquals(encoded.code, 0, encoded.err);
    assertEquals(JSON.parse(encoded.out), [4, 2, 1, 1, 1]);
    const counted = await tokens(["count", "-t", `${dir}/tokenizer.json`, "-f", file]);
    assertEquals(counted.out.trim(), "5");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokens usage errors exit 2 with one line", async () => {
  const cases = [
    ["encode"],
    ["frobnicate", "--tokenizer", "cl100k_base"],
    ["count", "--tokenizer", "cl100k_base", "--special", "some"],
    ["count", "--tokenizer", "no_such_encoding"],
    ["count", "--tokenizer", "cl100k_base", "--file", "/no/such/file"],
    ["decode", "--tokenizer", "cl100k_base"],
    ["encode", "--tokenizer", "cl100k_base", "--add-special-tokens", "maybe"],
    ["encode", "--tokenizer", "cl100k_base", "--no-special-tokens", "--add-special-tokens=true"],
    ["inspect", "--tokenizer", "cl100k_base", "--format", "yaml"],
  ];
  const results = await Promise.all(
    cases.map((args) => tokens(args, args[0] === "decode" ? '[1, "x"]' : "text")),
  );
  results.forEach((result, i) => {
    assertEquals(result.code, 2, `${cases[i].join(" ")}: ${result.err}`);
    assert(result.err.startsWith("error: "), result.err);
    assertEquals(result.err.trim().split("\n").length, 1, result.err);
  });
});

Deno.test("tokens encode|count --no-special-tokens give the bare ids transformers.js gives", async () => {
  const fixture = await FIXTURES.gemma3();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(fixture.json));
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(fixture.config));
    const reference = TokenizerLoader.fromPreTrained({
      tokenizerJSON: fixture.json,
      tokenizerConfig: fixture.config,
    });
    const text = "Hello, wörld! The 12345 tokens 😀";
    // each run loads Gemma's 262k-token vocabulary, so the runs go side by side
    const [encoded, bare, countedBare, inspected, table] = await Promise.all([
      tokens(["encode", "-t", dir], text),
      tokens(["encode", "-t", dir, "--no-special-tokens"], text),
      tokens(["count", "-t", dir, "--add-special-tokens=false"], text),
      tokens(["inspect", "-t", dir, "--json"]),
      tokens(["inspect", "-t", "o200k_base", "--format", "table"]),
    ]);
    const withSpecials = JSON.parse(encoded.out);
    assertEquals(withSpecials, reference.encode(text));
    assertEquals(bare.code, 0, bare.err);
    assertEquals(JSON.parse(bare.out), reference.encode(text, { add_special_tokens: false }));
    assertEquals(withSpecials.slice(1), JSON.parse(bare.out), "only the leading <bos> differs");
    assertEquals(Number(countedBare.out), withSpecials.length - 1);

    const report = JSON.parse(inspected.out);
    assertEquals(report.addedByPostProcessor, ["<bos>"]);
    assertEquals(report.specialTokens["<bos>"], withSpecials[0]);
    assertEquals(report.hasChatTemplate, true);
    assert(/^ADDED BY ENCODE\s+-$/m.test(table.out), table.out);
    assert(/^VOCAB SIZE\s+\d{6}$/m.test(table.out), table.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
