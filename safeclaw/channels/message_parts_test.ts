import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { MAX_PARTS, messageParts, sendParts, utf8Bytes } from "./message_parts.ts";

Deno.test("messageParts: a reply fits the platform's size, cut at line breaks and spaces", () => {
  assertEquals(messageParts("short", { size: 4096 }), ["short"]);
  assertEquals(messageParts("", { size: 10 }), [""]);
  const lines = Array.from({ length: 300 }, (_, i) => `line ${i} of the reply`).join("\n");
  const parts = messageParts(lines, { size: 4096 });
  assert(parts.every((p) => p.length <= 4096));
  assertEquals(parts.join("\n"), lines);
  assert(parts.slice(0, -1).every((p) => p.endsWith("reply")), "cut at line ends");
  // No break near: a hard cut, never through a surrogate pair.
  const emoji = "\u{1F600}".repeat(3000);
  const cut = messageParts(emoji, { size: 2000 });
  assert(cut.every((p) => p.length <= 2000 && p.toWellFormed() === p));
  assertEquals(cut.join(""), emoji);
});

Deno.test("messageParts: bytes where the platform counts bytes; a huge reply is cut with a note", () => {
  const chinese = "你好，世界。".repeat(1000);
  const parts = messageParts(chinese, { size: 2048, measure: utf8Bytes });
  assert(parts.every((p) => utf8Bytes(p) <= 2048));
  assertEquals(parts.join(""), chinese);
  const huge = "word ".repeat(600_000);
  const capped = messageParts(huge, { size: 4096 });
  assertEquals(capped.length, MAX_PARTS);
  assert(capped.every((p) => p.length <= 4096));
  assert(/\[… reply cut: \d+ more characters\]$/.test(capped.at(-1)!), capped.at(-1)!.slice(-60));
});

Deno.test("sendParts: a retry with the same progress starts at the part that failed", async () => {
  const sent: string[] = [];
  let refuseNext = true;
  const sendPart = (part: string, index: number) => {
    if (index === 1 && refuseNext) {
      refuseNext = false;
      return Promise.reject(new Error("platform API refused"));
    }
    sent.push(`${index}:${part}`);
    return Promise.resolve();
  };
  const progress = { partsSent: 0 };
  await assertRejects(
    () => sendParts("one two three", { size: 8 }, progress, sendPart),
    Error,
    "refused",
  );
  assertEquals([sent, progress.partsSent], [["0:one two"], 1]);
  await sendParts("one two three", { size: 8 }, progress, sendPart);
  assertEquals([sent, progress.partsSent], [["0:one two", "1:three"], 2]);
  // Every part sent: trying again sends nothing.
  await sendParts("one two three", { size: 8 }, progress, sendPart);
  assertEquals(sent.length, 2);
});
