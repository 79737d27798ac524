import { assert, assertEquals } from "@a3s/common/testing";
import { createClassifier } from "../classify.ts";
import { hasContext } from "./context.ts";

const classifier = createClassifier();
const found = (text: string) =>
  classifier.classify(text).findings.map((f) => [f.type, text.slice(f.start, f.end)]);

Deno.test("context: a word must end where it ends, so numer is not numeric nor appel appellate", () => {
  for (
    const text of [
      "Numeric ID 44051401458 assigned.",
      "There are numerous records, e.g. id 44051401458 in the batch.",
      "The appellate court docket 1234 5678 was filed.",
    ]
  ) assertEquals(found(text), [], text);
  assert(!hasContext("Numeric ID 44051401458", 11, 22, "pl_pesel"));
  // The whole word still lifts, and so do German compounds and code identifiers.
  assertEquals(found("Numer 44051401458"), [["pl_pesel", "44051401458"]]);
  assertEquals(found("PESEL 44051401458"), [["pl_pesel", "44051401458"]]);
  assertEquals(found("Telefonnummer: 030 901820"), [["phone", "030 901820"]]);
  assertEquals(found("Handynummer 1234 5678"), [["phone", "1234 5678"]]);
  assertEquals(found("phoneNumber: 555 0123"), [["phone", "555 0123"]]);
  assertEquals(found("phone_number=555 0123"), [["phone", "555 0123"]]);
  assertEquals(found("Appel au 1234 5678"), [["phone", "1234 5678"]]);
});

Deno.test("context: a uid is not an Aadhaar label; aadhaar and uidai are", () => {
  assertEquals(found("uid=234567890124 logged in"), []);
  assertEquals(found("user uid 499118665246 created"), []);
  assertEquals(found("Aadhaar no. 234567890124"), [["in_aadhaar", "234567890124"]]);
  assertEquals(found("UIDAI 234567890124"), [["in_aadhaar", "234567890124"]]);
});

Deno.test("context: handy, portable, extension, call and cell lift only as the value's label", () => {
  for (
    const text of [
      "A handy trick is to multiply 1234 5678 by two.",
      "Keep this handy: the build number is 2024 1125.",
      "Portable build 2023 0915 released.",
      "Extension point 1234 5678 registered.",
      "The call returned 1234 5678 rows in the benchmark.",
      "We had a call about invoice 4021 7788 yesterday.",
      "In Excel, the cell contains 1234 5678 as text.",
      "Dial-up modem 5551234 speeds.",
      "Please text me when you arrive at gate 12, seat 1234 5678.",
    ]
  ) assertEquals(found(text), [], text);
});

Deno.test("context: short local numbers with a label word are still found", () => {
  for (
    const [text, value] of [
      ["call me maybe 555 1234", "555 1234"],
      ["call me at 555-0123", "555-0123"],
      ["Call Bob on 555 1234", "555 1234"],
      ["my cell is 555 1234", "555 1234"],
      ["cell: 555 1234", "555 1234"],
      ["text me at 555-0123", "555-0123"],
      ["dial 555 1234", "555 1234"],
      ["ext. 1234 5678", "1234 5678"],
      ["contact: 555 0123", "555 0123"],
      ["555 0123 (cell)", "555 0123"],
      ["Handy: 1234 5678", "1234 5678"],
      ["Ruf mich an unter 1234 5678", "1234 5678"],
      ["Portable : 06 12 34 56 78", "06 12 34 56 78"],
      ["Tél. 1234 5678", "1234 5678"],
      ["Mobile 555 1234", "555 1234"],
      ["电话：1234 5678", "1234 5678"],
    ]
  ) assertEquals(found(text), [["phone", value]], text);
});
