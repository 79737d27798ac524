import { assertEquals } from "@a3s/common/testing";
import { createScanner, type Finding } from "@a3s/wasm/pii";
import { scanFile, scanFileJson } from "./scan_file.ts";

function scanAll(path: string, chunkBytes: number): Finding[] {
  const scanner = createScanner();
  const all: Finding[] = [];
  for (const findings of scanFile(path, scanner, chunkBytes)) all.push(...findings);
  scanner.free();
  return all;
}

/** The findings as `scan --file` prints them: the JSON chunks joined into one array. */
function scanAllJson(path: string, chunkBytes: number): string {
  const scanner = createScanner();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  for (const json of scanFileJson(path, scanner, chunkBytes)) parts.push(decoder.decode(json));
  scanner.free();
  return `[${parts.join(",")}]`;
}

Deno.test("scanFile: any chunk size gives the findings and UTF-16 offsets of one scan of the text", async () => {
  const lines = [
    "电话 ada@example.org — 😀 card 4111 1111 1111 1111",
    "ip 10.0.0.1 é and bob@example.com",
    // A line longer than the small chunks: the buffer grows instead of cutting it.
    `${"ünïcödé ".repeat(40)}carol@example.com ${"x".repeat(300)} 192.168.1.20`,
    "AKIAIOSFODNN7EXAMPLE is an example key",
    "",
    "last line without a newline: dave@example.org",
  ];
  const text = lines.join("\n");
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, text);
    const scanner = createScanner();
    const expected = scanner.scan(text);
    scanner.free();
    assertEquals(expected.length > 6, true);
    for (const chunkBytes of [16, 64, 100, 1 << 20]) {
      assertEquals(scanAll(path, chunkBytes), expected, `chunks of ${chunkBytes} bytes`);
      assertEquals(scanAllJson(path, chunkBytes), JSON.stringify(expected), `JSON, ${chunkBytes}`);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("scanFile: an empty file has no findings", async () => {
  const path = await Deno.makeTempFile();
  try {
    assertEquals(scanAll(path, 64), []);
    assertEquals(scanAllJson(path, 64), "[]");
  } finally {
    await Deno.remove(path);
  }
});
