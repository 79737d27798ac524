import { assertEquals } from "./testing.ts";
import { readCappedText } from "./capped_text.ts";
import { writeStdin } from "./stdin.ts";

const INPUT = new TextEncoder().encode("0123456789abcdef".repeat(65536));

Deno.test("writeStdin: a megabyte to a command that echoes it while its output is read", async () => {
  const child = new Deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn();
  const [echoed, , status] = await Promise.all([
    readCappedText(child.stdout),
    writeStdin(child.stdin, INPUT),
    child.status,
  ]);
  assertEquals([status.code, echoed.length], [0, INPUT.length]);
});

Deno.test("writeStdin: a command that exits without reading ends the write quietly", async () => {
  const child = new Deno.Command("true", { stdin: "piped" }).spawn();
  const [, status] = await Promise.all([writeStdin(child.stdin, INPUT), child.status]);
  assertEquals(status.code, 0);
});
