import { assert, assertEquals } from "@a3s/common/testing";
import { createClassifier } from "../classify.ts";
import {
  abnValid,
  base58CheckValid,
  bech32Valid,
  italianFiscalCodeValid,
  luhnValid,
  nhsValid,
  nifValid,
  nricValid,
  peselValid,
  tfnValid,
  verhoeffCheckDigit,
  verhoeffValid,
} from "./checksums.ts";
import { cardScheme } from "./cards.ts";
import { detect } from "./detect.ts";
import { hasContext } from "./context.ts";
import { fakerCorpus } from "../quality/faker_corpus.ts";
import { scoreFindings } from "../quality/score.ts";

const classifier = createClassifier();
const found = (text: string) =>
  classifier.classify(text).findings.map((f) => [f.type, text.slice(f.start, f.end)]);

Deno.test("checksums accept published valid identifiers and reject a changed digit", () => {
  const cases: [(s: string) => boolean, string, string][] = [
    [luhnValid, "4111111111111111", "4111111111111112"],
    [verhoeffValid, "2363", "2364"],
    [nhsValid, "9434765919", "9434765918"],
    [tfnValid, "123456782", "123456783"],
    [abnValid, "51824753556", "51824753557"],
    [peselValid, "44051401359", "44051401358"],
    [nifValid, "12345678Z", "12345678A"],
    [nifValid, "X1234567L", "X1234567A"],
    [italianFiscalCodeValid, "RSSMRA85T10A562S", "RSSMRA85T10A562T"],
    [nricValid, "S1234567D", "S1234567E"],
    [base58CheckValid, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyU"],
    [
      bech32Valid,
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
    ],
  ];
  for (const [check, good, bad] of cases) {
    assert(check(good), `${check.name} should accept ${good}`);
    assert(!check(bad), `${check.name} should reject ${bad}`);
  }
  assert(verhoeffValid("23456789012" + verhoeffCheckDigit("23456789012")));
});

Deno.test("every major card scheme and length is recognized, Luhn still required", () => {
  assertEquals(cardScheme("501800000009"), "maestro");
  assertEquals(cardScheme("213112345678900"), "jcb");
  assertEquals(cardScheme("2200000000000004"), "mir");
  assertEquals(cardScheme("6200000000000005"), "unionpay");
  assertEquals(cardScheme("30569309025904"), "diners");
  assertEquals(cardScheme("9999999999999995"), undefined);
  // 19-digit Maestro and 15-digit JCB, grouped and ungrouped.
  assertEquals(found("card 6304 0000 0000 0000 018"), [["credit_card", "6304 0000 0000 0000 018"]]);
  assertEquals(found("card 213100000000001"), [["credit_card", "213100000000001"]]);
  assertEquals(found("card 2131 0000 0000 002"), []);
});

Deno.test("phones in national and international formats with extensions and prefixes", () => {
  assertEquals(found("tel (415) 555-2671 x1234"), [["phone", "(415) 555-2671 x1234"]]);
  assertEquals(found("call 001-541-754-3010"), [["phone", "001-541-754-3010"]]);
  assertEquals(found("+1-202-555-0173 ext. 42"), [["phone", "+1-202-555-0173 ext. 42"]]);
  assertEquals(found("Telefon 030 901820"), [["phone", "030 901820"]]);
  assertEquals(found("portable 06 12 34 56 78"), [["phone", "06 12 34 56 78"]]);
  assertEquals(found("0049 30 901820"), [["phone", "0049 30 901820"]]);
});

Deno.test("a weak match is reported only with a context word near", () => {
  assertEquals(found("call me at 555-0123"), [["phone", "555-0123"]]);
  assertEquals(found("room 555-0123 is free"), []);
  assertEquals(found("born on 12/03/1985"), [["date_of_birth", "12/03/1985"]]);
  assertEquals(found("meeting on 12/03/1985"), []);
  assertEquals(found("NHS number 943 476 5919"), [["uk_nhs", "943 476 5919"]]);
  // A label before an earlier value does not lift a later one.
  assert(!hasContext("phone: +1 202 555 0173, ref 9763739391", 31, 41, "phone"));
  assert(hasContext("Telefonnummer: 030 901820", 15, 25, "phone"));
});

Deno.test("Presidio's checksum entities are found", () => {
  assertEquals(found("NINO AB123456C, DNI 12345678Z, NIE X1234567L"), [
    ["uk_nino", "AB123456C"],
    ["es_nif", "12345678Z"],
    ["es_nie", "X1234567L"],
  ]);
  assertEquals(found("CF RSSMRA85T10A562S; NRIC S1234567D; PESEL 44051401359"), [
    ["it_fiscal_code", "RSSMRA85T10A562S"],
    ["sg_nric", "S1234567D"],
    ["pl_pesel", "44051401359"],
  ]);
  assertEquals(found("ABN 51 824 753 556, TFN 123 456 782, PAN ABCPE1234F"), [
    ["au_abn", "51 824 753 556"],
    ["au_tfn", "123 456 782"],
    ["in_pan", "ABCPE1234F"],
  ]);
  const aadhaar = "2345 6789 012" + verhoeffCheckDigit("23456789012");
  assertEquals(found(`Aadhaar ${aadhaar}`), [["in_aadhaar", aadhaar]]);
  assertEquals(found("mac 00:1A:2B:3C:4D:5E see https://example.com/a?b=1."), [
    ["mac_address", "00:1A:2B:3C:4D:5E"],
    ["url", "https://example.com/a?b=1"],
  ]);
  assertEquals(found("btc 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), [
    ["crypto_wallet", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"],
  ]);
});

Deno.test("look-alikes stay quiet: versions, dates, ISBNs, references inside IBANs", () => {
  for (
    const text of [
      "version 2.3.14.5",
      "order 2024-01-05",
      "ISBN 978-0-306-40615-7",
      "ref 6865899604 was logged",
      "Voir BE38 1341 4465 9440 pour plus",
      "uuid 3f2b8c1e-4d5a-4b6c-9d7e-8f9a0b1c2d3e",
    ]
  ) assertEquals(found(text), [], text);
});

Deno.test("Faker corpus in 22 locales: precision and recall at least 0.98 for every type", () => {
  const records = fakerCorpus(1200, 11);
  const report = scoreFindings(
    records,
    records.map((r) => classifier.classify(r.text).findings),
  );
  for (const score of report.scores) {
    assert(score.precision >= 0.99, `${score.type} precision ${score.precision.toFixed(4)}`);
    assert(score.recall >= 0.98, `${score.type} recall ${score.recall.toFixed(4)}`);
  }
  assert(report.scores.length >= 15);
});

Deno.test("detect: a log with a date on each of 150,000 lines does not overflow the stack", () => {
  // Each line is a weak date candidate; they were spread as arguments of one push.
  const log = "2026-01-01 ok\n".repeat(150_000) + "mail ada@example.org\n";
  const email = {
    type: "email" as const,
    start: log.length - 16,
    end: log.length - 1,
    confidence: 1,
  };
  const found = detect(log, [email]);
  assertEquals(found.map((d) => d.type), ["email"]);
});
