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

// The reader runs in a fresh process so the figure is its own peak, not the noise of modules
// that ran before it in this one; collecting the output would cost at least its 300 MiB.
const READ_IN_A_FRESH_PROCESS = `
import { readCappedText } from ${JSON.stringify(new URL("./capped_text.ts", import.meta.url).href)};
const peak = () => Number(/VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
const before = peak();
const child = new Deno.Command("bash", {
  args: ["-c", "head -c 314572800 /dev/zero | tr '\\\\0' a"],
  stdout: "piped",
}).spawn();
const [text, status] = await Promise.all([readCappedText(child.stdout), child.status]);
console.log(JSON.stringify({ code: status.code, text, grown: peak() - before }));
`;

Deno.test("a command that prints without end is read in bounded memory", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", READ_IN_A_FRESH_PROCESS],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assertEquals(run.code, 0);
  const { code, text, grown } = JSON.parse(new TextDecoder().decode(run.stdout));
  assertEquals(code, 0);
  assert(text.length < 5 * 1024 * 1024, `kept ${text.length} characters`);
  assert(text.includes("[... 310378496 bytes of output dropped ...]"));
  assert(grown < 150 * 1024 * 1024, `peak memory grew by ${grown} bytes`);
});
