import { assertEquals } from "@a3s/common/testing";
import { createClassifier } from "../classify.ts";
import { ibanValid } from "./iban.ts";

Deno.test("iban: lower case and dashed groups are found; a digest that happens to check out needs a label", () => {
  assertEquals(ibanValid("DE89 3704 0044 0532 0130 00"), true);
  assertEquals(ibanValid("de89-3704-0044-0532-0130-00"), true);
  assertEquals(ibanValid("DE89 3704 0044 0532 0130 01"), false); // check digits
  assertEquals(ibanValid("DE89 3704 0044 0532 0130 0"), false); // Germany's length is 22
  assertEquals(ibanValid("ZZ89 3704 0044 0532 0130 00"), false); // no such country
  const classifier = createClassifier();
  try {
    const found = (text: string) => classifier.classify(text).findings.map((f) => f.type);
    assertEquals(found("send it to de89 3704 0044 0532 0130 00 today"), ["iban"]);
    assertEquals(found("IBAN: CH93-0076-2011-6238-5295-7"), ["iban"]);
    assertEquals(found("my iban is de89370400440532013000"), ["iban"]);
    assertEquals(found("hash de89370400440532013000 ok"), []);
  } finally {
    classifier.free();
  }
});
