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
    // A reader (stdin's kind of source) that hands out a few bytes at a time reads the same.
    const bytes = new TextEncoder().encode(text);
    let at = 0;
    const trickle = {
      readSync(buffer: Uint8Array): number | null {
        if (at >= bytes.length) return null;
        const n = Math.min(7, buffer.length, bytes.length - at);
        buffer.set(bytes.subarray(at, at + n));
        at += n;
        return n;
      },
    };
    const scanner2 = createScanner();
    const fromReader = [...scanFile(trickle, scanner2, 64)].flat();
    scanner2.free();
    assertEquals(fromReader, expected);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("scanFile: a PEM private key, the one value across lines, is found wherever a chunk ends", async () => {
  const body = Array.from({ length: 12 }, (_, i) => `MIIEowIBAAKCAQEA${"x".repeat(48)}${i}`);
  const pem = ["-----BEGIN RSA PRIVATE KEY-----", ...body, "-----END RSA PRIVATE KEY-----"];
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `log line ${i} nothing here`);
  // Before the key, prose of varied length, so that chunk ends fall before, in and after it.
  const path = await Deno.makeTempFile();
  try {
    for (const before of [1, 7, 40]) {
      const text = [...filler(before), ...pem, ...filler(5), "mail ada@example.org"].join("\n");
      await Deno.writeTextFile(path, text);
      const scanner = createScanner();
      const expected = scanner.scan(text);
      scanner.free();
      assertEquals(expected.map((f) => f.type), ["secret", "email"]);
      for (const chunkBytes of [64, 256, 1000, 4096]) {
        assertEquals(scanAll(path, chunkBytes), expected, `${before} lines, ${chunkBytes} bytes`);
        assertEquals(scanAllJson(path, chunkBytes), JSON.stringify(expected));
      }
    }
    // A "block" longer than the scanner reaches (64 KiB to its footer) is none: the buffer stops
    // growing at that reach and cuts it as lines.
    const long = ["-----BEGIN RSA PRIVATE KEY-----", ...Array(3_100).fill("A".repeat(64))];
    const text = [...long, "-----END RSA PRIVATE KEY-----", "mail ada@example.org"].join("\n");
    await Deno.writeTextFile(path, text);
    const scanner = createScanner();
    const expected = scanner.scan(text);
    scanner.free();
    assertEquals(expected.map((f) => f.type), ["email"]);
    assertEquals(scanAll(path, 4096), expected);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("scanFile: a card printed over two lines is found wherever a chunk ends", async () => {
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `log line ${i} nothing here`);
  const path = await Deno.makeTempFile();
  try {
    for (const before of [1, 3, 9]) {
      for (const eol of ["\n", "\r\n"]) {
        const card = `card 4111 1111${eol}1111 1111 ok`;
        const text = [...filler(before), card, ...filler(4), "mail ada@example.org"].join(eol);
        await Deno.writeTextFile(path, text);
        const scanner = createScanner();
        const expected = scanner.scan(text);
        scanner.free();
        assertEquals(expected.map((f) => f.type), ["credit_card", "email"]);
        for (const chunkBytes of [64, 100, 150, 256]) {
          assertEquals(scanAll(path, chunkBytes), expected, `${before} lines, ${chunkBytes} bytes`);
        }
      }
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("scanFile: a row of numbers under a card printed over two lines keeps it from being one wherever a chunk ends", async () => {
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `log line ${i} nothing here`);
  const path = await Deno.makeTempFile();
  try {
    // Blanks around the line break before the row: the scanner passes over them, and so must
    // the cut, or a chunk ending after the card's line would lose the row under it.
    for (const [end, start] of [[" ", " "], ["\t", ""], ["", "  "], [" \r", "\t"]]) {
      const rows = `card 4111 1111\n1111 1111${end}\n${start}2222 3333`;
      const text = [...filler(3), rows, ...filler(4), "card 4111 1111\n1111 1111 ok"].join("\n");
      await Deno.writeTextFile(path, text);
      const scanner = createScanner();
      const expected = scanner.scan(text);
      scanner.free();
      assertEquals(expected.map((f) => f.type), ["credit_card"], JSON.stringify(rows));
      for (let chunkBytes = 64; chunkBytes <= 200; chunkBytes++) {
        assertEquals(
          scanAll(path, chunkBytes),
          expected,
          `${JSON.stringify(rows)}, ${chunkBytes} bytes`,
        );
      }
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("scanFile: a first line of many groups before a long line leaves the scan of the rest whole", async () => {
  const probe = "SSN 536-22-1947, card 4111 1111 1111 1111, mail ada@example.org";
  const text = [
    "1111 1 1 1 1 1 1 1",
    "9 ".repeat(3000),
    probe,
    "1111 1 1 1 1 1 1 1",
    "9 ".repeat(3000),
    probe,
  ]
    .join("\n");
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, text);
    const offset = text.indexOf(probe);
    const second = text.lastIndexOf(probe);
    const values = [["us_ssn", "536-22-1947"], ["credit_card", "4111 1111 1111 1111"], [
      "email",
      "ada@example.org",
    ]];
    const expected = [offset, second].flatMap((at) =>
      values.map(([type, value]) => ({
        type,
        start: at + probe.indexOf(value),
        end: at + probe.indexOf(value) + value.length,
      }))
    );
    for (const chunkBytes of [64, 4096, 1 << 20]) {
      const findings = scanAll(path, chunkBytes).map(({ type, start, end }) => ({
        type,
        start,
        end,
      }));
      assertEquals(findings, expected, `${chunkBytes} bytes`);
    }
    // scan --file's JSON too, and a scanner that scanned it goes on finding the probe.
    const scanner = createScanner();
    assertEquals([...scanFileJson(path, scanner)].length > 0, true);
    assertEquals(scanner.scan(probe).map((f) => f.type), ["us_ssn", "credit_card", "email"]);
    scanner.free();
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

Deno.test("scanFile: a Latin-1 file's offsets are the ones of the file read as a string", async () => {
  // `é`, `ñ` and `°` are one byte each in Latin-1, ill-formed in UTF-8: TextDecoder reads each as
  // U+FFFD, and so do the offsets of a streamed scan, whatever the chunk size.
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const line = "caf\xe9 a\xf1o 20\xb0C mail ada@example.org, ip 10.0.0.1\n";
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, latin1(line.repeat(300)));
    const text = new TextDecoder().decode(await Deno.readFile(path));
    const scanner = createScanner();
    const expected = scanner.scan(text);
    scanner.free();
    assertEquals(expected.length, 600);
    for (const chunk of [64, 1000, 1 << 20]) assertEquals(scanAll(path, chunk), expected);
  } finally {
    await Deno.remove(path);
  }
});
