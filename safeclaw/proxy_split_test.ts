import { assert, assertEquals } from "@a3s/common/testing";
import type { Detection } from "./privacy/entities.ts";
import {
  acrossGroups,
  crossesRanges,
  layOut,
  reachesGroup,
  splicePieces,
  spliceRanges,
  WINDOW_CHARS,
  WINDOW_GROUPS,
  WINDOW_LONG_CHARS,
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

/**
 * A classifier of addresses, of runs of 4-digit groups (a `phone`), of IBANs, of PEM blocks and
 * of long `tok_` tokens (a `secret`), as plain patterns.
 */
function fakeClassify(text: string): Detection[] {
  const found: Detection[] = [];
  for (
    const m of text.matchAll(/-----BEGIN KEY-----[A-Za-z0-9+/\s]+-----END KEY-----|tok_\w{300,}/g)
  ) {
    found.push({ type: "secret", start: m.index, end: m.index + m[0].length, confidence: 1 });
  }
  for (const m of text.matchAll(/[a-z0-9.]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/gi)) {
    found.push({ type: "email", start: m.index, end: m.index + m[0].length, confidence: 1 });
  }
  for (const m of text.matchAll(/\b\d{4}(?: \d{4})+\b/g)) {
    found.push({ type: "phone", start: m.index, end: m.index + m[0].length, confidence: 1 });
  }
  for (const m of text.matchAll(/\bDE\d{2}(?: ?\d{4}){2,}\b/g)) {
    found.push({ type: "iban", start: m.index, end: m.index + m[0].length, confidence: 1 });
  }
  return found.sort((a, b) => a.start - b.start);
}

/** The texts of `acrossGroups`' values for `groups` joined with `separator`. */
function splitValues(groups: string[], separator: string): string[] {
  return splitReadings(groups, separator).values;
}

/** The texts of `acrossGroups`' values for `groups`, and of the other readings it gave. */
function splitReadings(
  groups: string[],
  separator: string,
): { values: string[]; readings: string[] } {
  const layout = layOut(groups.map((g) => [g]), separator);
  const readings: Detection[] = [];
  const named = (f: Detection) => `${f.type}:${layout.text.slice(f.start, f.end)}`;
  const values = acrossGroups(layout, fakeClassify, separator !== "", readings).map(named);
  return { values, readings: readings.map(named) };
}

Deno.test("acrossGroups keeps a value cut between groups, not one a group holds whole", () => {
  assertEquals(splitValues(["mail zed@exa", "mple.com"], ""), ["email:zed@example.com"]);
  // The first message's own address explains the glued reading.
  assertEquals(splitValues(["mail a@b.co", "thanks"], ""), []);
  // The later message's own address explains the earlier one's last letter glued on.
  assertEquals(splitValues(["mail z", "ed@example.com"], ""), []);
  // Spaced, a value of another type inside the finding is part of it; glued, it explains it.
  assertEquals(splitValues(["x DE89 3704", "0532 0130"], " "), ["iban:DE89 3704 0532 0130"]);
  assertEquals(splitValues(["x 4111", "@b.co"], ""), ["email:4111@b.co"]);
  assertEquals(splitValues(["card 4111 1111 1111 1111", "@b.co"], ""), []);
  const layout = layOut([["x DE89 3704"], ["0532 0130"], ["ok"]], " ");
  const [iban] = acrossGroups(layout, fakeClassify, true);
  assert(reachesGroup(layout, iban, (g) => g === 1));
  assert(!reachesGroup(layout, iban, (g) => g === 2));
});

Deno.test("acrossGroups: a value ends in the group its last piece is in, never in the next", () => {
  // The next group's first word neither runs on into it nor hides it.
  assertEquals(splitValues(["my email is zed@", "example.com", "thanks"], ""), [
    "email:zed@example.com",
  ]);
  assertEquals(splitValues(["zed@", "example.com", "2 more"], ""), ["email:zed@example.com"]);
  assertEquals(splitValues(["call 4111", "1111", "2222 apples"], " "), ["phone:4111 1111"]);
  // Two in a row, and the same one twice: each read from where the last one ended.
  assertEquals(splitValues(["zed@", "example.com", "bob.smith@", "example.org"], ""), [
    "email:zed@example.com",
    "email:bob.smith@example.org",
  ]);
  assertEquals(splitValues(["zed@", "example.com", "zed@", "example.com"], ""), [
    "email:zed@example.com",
    "email:zed@example.com",
  ]);
  // A whole address, then a split one: the glued reading of the two does not hide the second.
  assertEquals(splitValues(["cc a@b.co", "bob.smith@", "example.org"], ""), [
    "email:bob.smith@example.org",
  ]);
  // A message of one word before the first piece is not part of the value.
  assertEquals(splitValues(["thanks", "zed@", "example.com"], ""), ["email:zed@example.com"]);
});

Deno.test("acrossGroups: a value whose first piece is the last word of its group starts at the next", () => {
  // The word that ends a message is its own, the longer reading tracked beside the value.
  // Before, the value was `tozed.private@example.com` and `to` was taken from the message.
  for (const first of ["send it to", "thanks a lot", "Thanks.", "2024", "1.5"]) {
    assertEquals(splitReadings([first, "zed.private@", "example.com"], ""), {
      values: ["email:zed.private@example.com"],
      readings: [`email:${first.split(" ").at(-1)}zed.private@example.com`],
    }, first);
  }
  // A genuine first fragment stays in its message: the lesser harm (see `acrossGroups`).
  assertEquals(splitReadings(["zed.", "private@", "example.com"], ""), {
    values: ["email:private@example.com"],
    readings: ["email:zed.private@example.com"],
  });
  // Not where the rest is no value cut between groups, or the piece is glued to a mark.
  assertEquals(splitReadings(["mail zed.private@", "example.com"], ""), {
    values: ["email:zed.private@example.com"],
    readings: [],
  });
  assertEquals(splitValues(["mail:zed.pr", "ivate@", "example.com"], ""), [
    "email:zed.private@example.com",
  ]);
});

Deno.test("acrossGroups reads a value cut into many groups, or a long one, whole", () => {
  // Six pieces: before, the window of three groups read `ate@example.com` alone.
  assertEquals(splitValues(["mail:zed.pr", "iv", "at", "e@ex", "ample", ".com"], ""), [
    "email:zed.private@example.com",
  ]);
  // A value that ends its group goes on in the groups that are nothing but its rest.
  assertEquals(splitReadings(["call 4111", "1111", "2222", "3333"], " "), {
    values: ["phone:4111 1111 2222 3333"],
    readings: ["phone:4111 1111", "phone:4111 1111 2222"],
  });
  assertEquals(splitValues(["call 4111", "1111", "thanks", "2222"], " "), ["phone:4111 1111"]);
  // So does a value its group holds whole, spaced only; the shorter reading is tracked.
  assertEquals(splitReadings(["call 4111 1111", "2222", "3333"], " "), {
    values: ["phone:4111 1111 2222 3333"],
    readings: ["phone:4111 1111", "phone:4111 1111 2222"],
  });
  assertEquals(splitValues(["call 4111 1111", "2222"], ""), []);
  // Not into a group with more than its rest, nor past a group between them.
  assertEquals(splitValues(["call 4111 1111", "2222 apples"], " "), []);
  assertEquals(splitValues(["call 4111 1111", "thanks", "2222"], " "), []);
  // Nor as a reading the classifier is less sure of; as one of its type it does.
  const unsure = (text: string) =>
    fakeClassify(text).map((f) =>
      text.slice(f.start, f.end).length > 9 ? { ...f, confidence: 0.5 } : f
    );
  assertEquals(acrossGroups(layOut([["call 4111 1111"], ["2222"]], " "), unsure, true), []);
  assertEquals(splitValues(["pay DE89 3704 0044", "0532"], " "), ["iban:DE89 3704 0044 0532"]);
  // A key whose first line is 700 characters back, or a token whose start is 290 back.
  const body = Array.from({ length: 12 }, (_, i) => `${"Ab9+".repeat(16)}${i}`).join("\n");
  const key = `-----BEGIN KEY-----\n${body}\n-----END KEY-----`;
  const token = `tok_${"aB3".repeat(130)}`;
  for (const separator of [" ", ""]) {
    assertEquals(splitValues([`key ${key.slice(0, 700)}`, key.slice(700)], separator), [
      `secret:${key.slice(0, 700)}${separator}${key.slice(700)}`,
    ], separator);
    const fifths = Array.from({ length: 5 }, (_, i) => key.slice(i * 180, (i + 1) * 180));
    assertEquals(splitValues(fifths, separator).length, 1, separator);
  }
  assertEquals(splitValues([`token ${token.slice(0, 290)}`, token.slice(290)], ""), [
    `secret:${token}`,
  ]);
  const pieces = Array.from(
    { length: 5 },
    (_, i) => token.slice(i * 70, i < 4 ? (i + 1) * 70 : undefined),
  );
  assertEquals(splitValues(pieces, ""), [`secret:${token}`]);
  // Prose before a boundary is read back no further than before.
  assertEquals(splitValues([`${"x ".repeat(300)}tok_${"aB3".repeat(60)}`, "aB3".repeat(60)], ""), [
    `secret:tok_${"aB3".repeat(120)}`,
  ]);
  assertEquals(
    splitValues([`tok_${"aB3".repeat(60)} ${"x ".repeat(300)}`, "aB3".repeat(60)], ""),
    [],
  );
});

Deno.test("acrossGroups reads each group in a bounded window: linear in the text", () => {
  const groups = Array.from({ length: 2_000 }, (_, i) => `${"word ".repeat(200)}mail u${i}@`);
  groups.push("example.com");
  const layout = layOut(groups.map((g) => [g]), "");
  let read = 0;
  const found = acrossGroups(layout, (text) => {
    read += text.length;
    return fakeClassify(text);
  }, false);
  assertEquals(found.map((f) => layout.text.slice(f.start, f.end)), ["u1999@example.com"]);
  // Each group read alone once, in its own window whole, and in later ones its last characters
  // (the word the boundary cuts, and WINDOW_CHARS before it); the value's rest read once more.
  assert(
    read <= 2 * layout.text.length + (WINDOW_CHARS + 8) * groups.length + 20,
    `${read} of ${layout.text.length}`,
  );
  // A boundary inside a long token reads further back, WINDOW_LONG_CHARS at most.
  const tokens = Array.from({ length: 200 }, (_, i) => [`${i}${"aB3".repeat(1_000)}`]);
  const long = layOut(tokens, "");
  read = 0;
  acrossGroups(long, (text) => {
    read += text.length;
    return [];
  }, false);
  assert(read > 2 * long.text.length, `${read} of ${long.text.length}`);
  assert(
    read <= 2 * long.text.length + WINDOW_LONG_CHARS * tokens.length,
    `${read} of ${long.text.length}`,
  );
  // WINDOW_GROUPS groups back at most.
  const fillers = Array.from({ length: WINDOW_GROUPS }, () => ["x"]);
  const near = layOut([["a".repeat(1_000) + " zed@"], ...fillers.slice(1), ["example.com"]], "");
  assertEquals(acrossGroups(near, fakeClassify, false).length, 1);
  const far = layOut([["a".repeat(1_000) + " zed@"], ...fillers, ["example.com"]], "");
  assertEquals(acrossGroups(far, fakeClassify, false), []);
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
