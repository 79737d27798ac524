import { assert, assertEquals } from "@a3s/common/testing";
import { createClassifier } from "../classify.ts";
import { judgeScannerPhone } from "./phone.ts";

const classifier = createClassifier();
const phones = (text: string) =>
  classifier.classify(text).findings.filter((f) => f.type === "phone").map((f) =>
    text.slice(f.start, f.end)
  );

Deno.test("phone: the scanner's unassigned numbers are not phones without a context word", () => {
  for (
    const text of [
      "Ref 123-456-7890 in the ledger",
      "Number (000) 000-0000 here",
      "See +1 123 456 7890 for details",
      "x 111-111-1111 y",
      "x +1 555 555 5555 y",
      "I sent (935) 658-4672 yesterday",
      "Order 2125551234 shipped.",
    ]
  ) assertEquals(phones(text), [], text);
  const text = "Ref 123-456-7890 in the ledger";
  assertEquals(
    judgeScannerPhone(text, { type: "phone", start: 4, end: 16, confidence: 0.85 }).confidence,
    0,
  );
});

Deno.test("phone: a context word still lifts a number the metadata does not know", () => {
  assertEquals(phones("Phone: (935) 658-4672"), ["(935) 658-4672"]);
  assertEquals(phones("Cellulare: +72 4601 0848175"), ["+72 4601 0848175"]);
  assertEquals(phones("phone 2125551234"), ["2125551234"]);
});

Deno.test("phone: valid numbers in every promised layout, with no context word", () => {
  for (
    const value of [
      "(212) 736-5000",
      "212-736-5000",
      "212.736.5000",
      "1-212-736-5000",
      "+1 212 736 5000",
      "+1-212-736-5000",
      "+1 (212) 736-5000",
      "+12127365000",
      "001-212-736-5000",
      "011 44 20 7946 0958",
      "0049 30 901820",
      "+49 (0)30 901820",
      "020 7946 0958",
      "(020) 7946 0958",
      "138 0013 8000",
      "138-0013-8000",
      "(415) 555-2671 x1234",
      "212-736-5000 ext. 42",
      "+1-202-555-0173 ext. 42",
    ]
  ) assertEquals(phones(`I sent ${value} yesterday`), [value], value);
});

// libphonenumber's example mobile number of each of the 32 regions, international and national.
const EXAMPLES: [string, string][] = [
  ["+1 201 555 0123", "(201) 555-0123"],
  ["+44 7400 123456", "07400 123456"],
  ["+49 1512 3456789", "01512 3456789"],
  ["+33 6 12 34 56 78", "06 12 34 56 78"],
  ["+34 612 34 56 78", "612 34 56 78"],
  ["+39 312 345 6789", "312 345 6789"],
  ["+31 6 12345678", "06 12345678"],
  ["+32 450 00 12 34", "0450 00 12 34"],
  ["+41 78 123 45 67", "078 123 45 67"],
  ["+43 664 123456", "0664 123456"],
  ["+46 70 123 45 67", "070-123 45 67"],
  ["+47 40 61 23 45", "40 61 23 45"],
  ["+45 34 41 23 45", "34 41 23 45"],
  ["+358 41 2345678", "041 2345678"],
  ["+48 512 345 678", "512 345 678"],
  ["+351 912 345 678", "912 345 678"],
  ["+353 85 012 3456", "085 012 3456"],
  ["+420 601 123 456", "601 123 456"],
  ["+55 11 96123 4567", "(11) 96123-4567"],
  ["+52 222 123 4567", "222 123 4567"],
  ["+54 9 11 2345 6789", "011 15-2345-6789"],
  ["+91 81234 56789", "081234 56789"],
  ["+86 131 2345 6789", "131 2345 6789"],
  ["+81 90 1234 5678", "090-1234-5678"],
  ["+82 10 2000 0000", "010-2000-0000"],
  ["+61 412 345 678", "0412 345 678"],
  ["+64 21 123 4567", "021 123 4567"],
  ["+65 8123 4567", "8123 4567"],
  ["+7 912 345 67 89", "8 (912) 345-67-89"],
  ["+27 71 123 4567", "071 123 4567"],
  ["+90 501 234 56 78", "0501 234 56 78"],
  ["+1 506 234 5678", "(506) 234-5678"],
];

Deno.test("phone: 32 regions, international anywhere and national with a context word", () => {
  for (const [international, national] of EXAMPLES) {
    assertEquals(phones(`Reach ${international} today`), [international], international);
    const e164 = international.replace(/ /g, "");
    assertEquals(phones(`x ${e164} y`), [e164], e164);
    assertEquals(phones(`phone: ${national}`), [national], national);
  }
});

Deno.test("phone: a Chinese mobile written as eleven plain digits is found with no label", () => {
  assertEquals(phones("客户李娜 13722334455 已付款"), ["13722334455"]);
  assertEquals(phones("contact 18612345678 today"), ["18612345678"]);
});

Deno.test("phone: national numbers with a trunk 0 in their usual layouts, with no label", () => {
  for (
    const value of [
      "021 456 7788",
      "071 123 4567",
      "08-123 456 78",
      "(0161) 4960001",
      "(089) 12345678",
      "01512 3456789",
    ]
  ) assertEquals(phones(`Mary Byrne, ${value}`), [value], value);
  // Unbroken, ten or eleven digits led by 0 are as often a PESEL or a reference: a label decides.
  for (const value of ["0698765432", "07912345678", "04271612345"]) {
    assertEquals(phones(`Mary Byrne, ${value}`), [], value);
    assertEquals(phones(`Mary Byrne, mobile ${value}`), [value], value);
  }
});

Deno.test("phone: the label words of Dutch, Nordic, Portuguese, Russian, Finnish, Indonesian, Hindi", () => {
  for (
    const text of [
      "Telefoon: 030 987 6543",
      "Mobiel: 06 9876 5432",
      "Mobil: 46 12 34 56",
      "Celular: (21) 98765-4321",
      "Telefone: 912 345 678",
      "Телефон: 8 903 123 45 67",
      "Puhelin: 041 2345678",
      "Telepon: 0812 3456 7890",
      "फ़ोन: 98765 43210",
      "전화: 02-312-1234",
    ]
  ) assertEquals(phones(text).length, 1, text);
});

Deno.test("phone: a number labelled as another type is not a phone", () => {
  for (
    const text of [
      "NHS number: 870 917 9995",
      "SSN: 078-00-1120",
      "SKU 212-736-5000",
      "part no. 212-736-5000",
      "Order #: 212-736-5000",
      "customer no 212 736 5000",
      "barcode 0044123456789",
      "Total: 13722334455",
      "Referenz 212-736-5000",
    ]
  ) assertEquals(phones(text), [], text);
  // With a phone's own label the number stays a phone.
  assertEquals(phones("NHS helpline phone: 212-736-5000"), ["212-736-5000"]);
  assertEquals(phones("customer 212-736-5000"), ["212-736-5000"]);
});

Deno.test("phone: a date or a time after the number is not read into it", () => {
  assertEquals(phones("call 212-736-5000 16:45 sharp"), ["212-736-5000"]);
  assertEquals(phones("+33 6 12 34 56 78 09:15"), ["+33 6 12 34 56 78"]);
  assertEquals(phones("Phone: 030 987 6543 12/03/2024"), ["030 987 6543"]);
});

Deno.test("phone: a number after the phone is not read into it, with or without a label", () => {
  for (
    const [text, value] of [
      ["(415) 555-2671 100 times", "(415) 555-2671"],
      ["call (415) 555-2671 100 times", "(415) 555-2671"],
      ["(415) 555-0199", "(415) 555-0199"],
      ["I rang (415) 555-0199 100 times", "(415) 555-0199"],
      ["415 555-2671 100 times", "415 555-2671"],
      ["tel 415 555-2671 100 times", "415 555-2671"],
      ["phone 020 7946 0958 100 times", "020 7946 0958"],
    ]
  ) assertEquals(phones(text), [value], text);
  // The metadata still reads a longer number whole where it is one.
  assertEquals(phones("call 011 44 20 7946 0958"), ["011 44 20 7946 0958"]);
  // Digits that are no phone stay unflagged, with the trailing group or without it.
  for (
    const text of [
      "it ran 100 times in 2024",
      "rows 4155 5526 71 100",
      "build 415 555 100 times",
      "order 2024 0001 100 pcs",
      "(123) 456-7890 100 times",
      "version 4.15.555 2671 100",
    ]
  ) assertEquals(phones(text), [], text);
});

Deno.test("phone: '#' and digits after a space are not an extension", () => {
  for (
    const [text, value] of [
      ["+1 415 555 2671 #14", "+1 415 555 2671"],
      ["call +1 415 555 2671 #14 at noon", "+1 415 555 2671"],
      ["(415) 555-2671 #14", "(415) 555-2671"],
      ["tel 415-555-2671 # 14", "415-555-2671"],
    ]
  ) assertEquals(phones(text), [value], text);
  // Right after the number a dialler takes "#" as the extension's; "x" and "ext." may stand
  // after a space.
  assertEquals(phones("+1 415 555 2671#14"), ["+1 415 555 2671#14"]);
  assertEquals(phones("(415) 555-2671 x14"), ["(415) 555-2671 x14"]);
  assertEquals(phones("(415) 555-2671 ext. 14"), ["(415) 555-2671 ext. 14"]);
});

Deno.test("phone: digits after the scanner's number belong to it where the whole is a valid national number", () => {
  // German numbers vary in length: 030 1234 5678 9 is one Berlin number, as the metadata says.
  assertEquals(phones("Tel. 030 1234 5678 9"), ["030 1234 5678 9"]);
  assertEquals(phones("Telefon: 030 1234 5678 91"), ["030 1234 5678 91"]);
  // Readings the parser allows but no one writes stay out: a region's international prefix
  // read into the number (Singapore dials out with 020), a national number without its trunk 0.
  assertEquals(phones("phone 020 7946 0958 100 times"), ["020 7946 0958"]);
  assertEquals(phones("tel 415 555-2671 100 times"), ["415 555-2671"]);
});

Deno.test("phone: a megabyte of phones each followed by a count is read in linear time", () => {
  for (const unit of ["Tel 020 7946 0958 1\n", "call 415 555 2671 1\n"]) {
    const text = unit.repeat(Math.ceil(1_000_000 / unit.length));
    const t = performance.now();
    const found = createClassifier().classify(text).findings;
    const ms = performance.now() - t;
    // About 0.1 s here; every trailing group checked region by region took 6-7 s.
    assert(ms < 3_000, `${JSON.stringify(unit)}: ${ms.toFixed(0)} ms`);
    assert(found.length > 0);
  }
});

Deno.test("phone: one parse budget per classification, windows included; numbers no region takes are cheap", () => {
  const classifier = createClassifier();
  const timed = (text: string) => {
    const t = performance.now();
    const findings = classifier.classify(text).findings;
    return { ms: performance.now() - t, findings };
  };
  const megabyte = (unit: string) => unit.repeat(Math.ceil(1_000_000 / unit.length));
  // Longer than any region's national number: 10-14 s a megabyte before.
  assert(timed(megabyte("Tel 99999999999999999999\n")).ms < 3_000);
  // A zero-width space every 33 lines made each folded window a budget of its own (11 s).
  const lines = "Tel 020 7946 0958 1\n".repeat(33);
  assert(timed(megabyte(lines + "\u200b")).ms < 3_000);
  // Numbers beside "Tel" that no region takes: past the budget they count as possible phones.
  const rejected = timed(megabyte("Tel 0000 0000 00000\n"));
  assert(rejected.ms < 3_000, `${rejected.ms.toFixed(0)} ms`);
  // Past the budget a trailing group is read in, never left out of the number.
  const many = "Tel. 030 1234 5678 9\n".repeat(5_000);
  const spans = classifier.classify(many).findings.filter((f) => f.type === "phone");
  assert(spans.every((f) => many.slice(f.start, f.end) === "030 1234 5678 9"));
  classifier.free();
});
