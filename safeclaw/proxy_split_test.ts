import { assert, assertEquals } from "@a3s/common/testing";
import type { Detection } from "./privacy/entities.ts";
import {
  acrossGroups,
  crossesRanges,
  layOut,
  reachesGroup,
  splicePieces,
  spliceRanges,
} from "./proxy_split.ts";

Deno.test("layOut joins every piece without its end whitespace; blank pieces and groups are none", () => {
  const layout = layOut([["card 4111 1111\n"], ["", "  "], [" 1111", "1111\t"]], " ");
  assertEquals(layout.text, "card 4111 1111 1111 1111");
  assertEquals(layout.segments, [
    { group: 0, piece: 0, from: 0, start: 0, end: 14 },
    { group: 2, piece: 0, from: 1, start: 15, end: 19 },
    { group: 2, piece: 1, from: 0, start: 20, end: 24 },
  ]);
  assertEquals(layout.groups, [
    { group: 0, start: 0, end: 14 },
    { group: 2, start: 15, end: 24 },
  ]);
  assertEquals(layOut([["a", "b"], ["c"]], "").text, "abc");
  assertEquals(layOut([[" "], [""]], "").groups, []);
});

Deno.test("spliceRanges puts a value's replacement where it begins and removes its rest", () => {
  // "ab|cd|ef" as three stretches with a one-character gap between them: "ab cd ef".
  const text = "ab cd ef";
  const ranges = [{ start: 0, end: 2 }, { start: 3, end: 5 }, { start: 6, end: 8 }];
  const at = (start: number, end: number, replacement: string) => ({ start, end, replacement });
  assertEquals(spliceRanges(text, ranges, [at(1, 7, "X")]), ["aX", "", "f"]);
  // Begun in a gap: the next stretch has it.
  assertEquals(spliceRanges(text, ranges, [at(2, 4, "X")]), ["ab", "Xd", "ef"]);
  // Two in one stretch, in any order given; one overlapping an earlier one is left out (of two
  // that begin at once, the longer is kept).
  assertEquals(
    spliceRanges(text, ranges, [at(6, 7, "Z"), at(0, 1, "X"), at(1, 2, "Y"), at(1, 4, "W")]),
    ["XW", "d", "Zf"],
  );
  assertEquals(spliceRanges(text, ranges, [at(0, 1, "X"), at(1, 2, "Y"), at(3, 4, "V")]), [
    "XY",
    "Vd",
    "ef",
  ]);
  assertEquals(spliceRanges(text, ranges, []), ["ab", "cd", "ef"]);
});

Deno.test("splicePieces edits only each piece's laid-out stretch, its whitespace kept", () => {
  const groups = [["card 4111 1111\n"], ["  "], ["1111 1111", " thanks"]];
  const layout = layOut(groups, " ");
  const start = layout.text.indexOf("4111");
  const value = { start, end: start + 19, replacement: "[CARD]" };
  assertEquals(splicePieces(layout, groups, [value]), [
    ["card [CARD]\n"],
    ["  "],
    ["", " thanks"],
  ]);
});

Deno.test("acrossGroups keeps a value cut between groups, not one a group holds whole", () => {
  const layout = layOut([["mail a@b.co"], ["thanks"], ["x DE89"], ["0532 0130"]], "");
  const at = (type: string, text: string, from = 0): Detection => {
    const start = layout.text.indexOf(text, from);
    return { type, start, end: start + text.length, confidence: 1 } as Detection;
  };
  // Each group read alone: the address is whole in the first, the last reads as a phone number.
  const classify = (text: string): Detection[] => {
    const own: Detection[] = [];
    const address = text.indexOf("a@b.co");
    if (address >= 0) own.push({ type: "email", start: address, end: address + 6, confidence: 1 });
    if (text === "0532 0130") own.push({ type: "phone", start: 0, end: 9, confidence: 1 });
    return own;
  };
  const glued = at("email", "a@b.cothanks");
  const iban = at("iban", "DE890532 0130");
  const within = at("email", "a@b.co");
  // Glued, any value of a group that the finding overlaps explains it.
  assertEquals(acrossGroups(layout, [glued, iban, within], classify, false), []);
  // Spaced, a value of another type lying inside the finding is part of it.
  assertEquals(acrossGroups(layout, [glued, iban, within], classify, true), [iban]);
  assert(reachesGroup(layout, iban, (g) => g === 3));
  assert(!reachesGroup(layout, iban, (g) => g === 1));
});

Deno.test("crossesRanges: a span with characters of two ranges, gaps between them not counted", () => {
  const ranges = [{ start: 0, end: 4 }, { start: 5, end: 9 }];
  assert(crossesRanges({ start: 3, end: 6 }, ranges));
  assert(!crossesRanges({ start: 0, end: 4 }, ranges));
  assert(!crossesRanges({ start: 3, end: 5 }, ranges));
  assert(!crossesRanges({ start: 4, end: 9 }, ranges));
});

Deno.test("splicing many values over many pieces takes time linear in the two", () => {
  // 300,000 empty parts, then 10,000 messages each ending a value the next one finishes: the
  // shape that took every value past every piece (billions of steps) before.
  const groups: string[][] = [Array.from({ length: 300_000 }, () => "")];
  for (let i = 0; i < 10_000; i++) groups.push([`example.com mail u${i}@`]);
  const started = performance.now();
  const layout = layOut(groups, "");
  const values = [];
  for (let at = layout.text.indexOf("u"); at >= 0; at = layout.text.indexOf("u", at + 1)) {
    values.push({ start: at, end: layout.text.indexOf("mail", at), replacement: "[EMAIL]" });
  }
  values.pop();
  const out = splicePieces(layout, groups, values);
  const spliced = spliceRanges(
    "x".repeat(300_000),
    Array.from({ length: 300_000 }, (_, i) => ({ start: i, end: i + 1 })),
    values.map((_, i) => ({ start: i * 30, end: i * 30 + 20, replacement: "" })),
  );
  const took = performance.now() - started;
  assertEquals(out[1], ["example.com mail [EMAIL]"]);
  assertEquals(out[2], ["mail [EMAIL]"]);
  assertEquals(spliced.filter((s) => s === "x").length, 300_000 - 20 * values.length);
  assert(took < 1500, `${took} ms`);
});
