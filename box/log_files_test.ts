/** Reading a log across rotated files, by the stream's byte count (no box needed). */
import { assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { logEnd, readLogSince } from "./log_files.ts";

function readAll(path: string, from: number): { text: string; offset: number } {
  const offset = { value: from };
  const decoder = new TextDecoder();
  let text = "";
  for (const chunk of readLogSince(path, offset)) text += decoder.decode(chunk);
  return { text, offset: offset.value };
}

Deno.test("log files: rotated files read in order, from a byte count", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3slogs" });
  try {
    const path = join(dir, "stdout.log");
    // "aaaa" rotated away, then "bbbb" (.2), "cccc" (.1), "dd" written now.
    await Deno.writeTextFile(`${path}.2`, "bbbb");
    await Deno.writeTextFile(`${path}.1`, "cccc");
    await Deno.writeTextFile(path, "dd");
    await Deno.writeTextFile(`${path}.offset`, "12\n");
    assertEquals(await logEnd(path), 14);
    // A reader from the start gets what is kept: the oldest kept file onward.
    assertEquals(readAll(path, 0), { text: "bbbbccccdd", offset: 14 });
    assertEquals(readAll(path, 6), { text: "bbccccdd", offset: 14 });
    assertEquals(readAll(path, 9), { text: "cccdd", offset: 14 });
    assertEquals(readAll(path, 13), { text: "d", offset: 14 });
    assertEquals(readAll(path, 14), { text: "", offset: 14 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log files: a log never rotated reads as one file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3slogs" });
  try {
    const path = join(dir, "stdout.log");
    assertEquals(readAll(path, 0), { text: "", offset: 0 });
    await Deno.writeTextFile(path, "hello");
    assertEquals(readAll(path, 2), { text: "llo", offset: 5 });
    assertEquals(await logEnd(path), 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
