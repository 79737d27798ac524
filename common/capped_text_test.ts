import { assert, assertEquals } from "@a3s/common/testing";
import { readCappedText } from "./capped_text.ts";

/** A stream of `chunks`, each a string, as a pipe would deliver them. */
function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

Deno.test("readCappedText keeps the start and the end, and says how much it dropped", async () => {
  assertEquals(await readCappedText(streamOf(["short"]), 100), "short");
  assertEquals(await readCappedText(streamOf(["0123456789"]), 10), "0123456789");
  // 10 kept: the first 8 bytes and the last 2, in any chunking.
  const digits = "0123456789abcdefghij";
  for (const size of [1, 3, 7, 20]) {
    const chunks = digits.match(new RegExp(`.{1,${size}}`, "g"))!;
    assertEquals(
      await readCappedText(streamOf(chunks), 10),
      "01234567\n[... 10 bytes of output dropped ...]\nij",
      `chunks of ${size}`,
    );
  }
});

Deno.test("a command that prints without end is read in bounded memory", async () => {
  const before = Deno.memoryUsage().rss;
  // 300 MiB of output, read through a pipe as a sandbox reads it.
  const child = new Deno.Command("bash", {
    args: ["-c", "head -c 314572800 /dev/zero | tr '\\0' a"],
    stdout: "piped",
  }).spawn();
  const [text, status] = await Promise.all([readCappedText(child.stdout), child.status]);
  const grown = Deno.memoryUsage().rss - before;
  assertEquals(status.code, 0);
  assert(text.length < 5 * 1024 * 1024, `kept ${text.length} characters`);
  assert(text.includes("[... 310378496 bytes of output dropped ...]"));
  assert(grown < 100 * 1024 * 1024, `memory grew by ${grown} bytes`);
});
