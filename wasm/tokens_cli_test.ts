import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { get_encoding } from "tiktoken";

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
