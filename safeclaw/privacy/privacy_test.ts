import { assert, assertEquals } from "@a3s/common/testing";
import { createScanner } from "@a3s/wasm/pii";
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
import { CONTEXT_WORDS, hasContext } from "./context.ts";
import { fakerCorpus } from "../quality/faker_corpus.ts";
import { scoreFindings } from "../quality/score.ts";
import { Random } from "../quality/random.ts";

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

Deno.test("a date or a time after a number is not part of it, for the recognizers' types too", () => {
  assertEquals(found("charge ok 180072951817569 2024-05-01"), [
    ["credit_card", "180072951817569"],
  ]);
  assertEquals(found("card 6221 6639 2332 1468 8 07/30"), [
    ["credit_card", "6221 6639 2332 1468 8"],
  ]);
  assertEquals(found("NHS number 401 023 2137 01/02/1961"), [["uk_nhs", "401 023 2137"]]);
  assertEquals(found("emp 219-09-9999 11/04/1975"), [["us_ssn", "219-09-9999"]]);
  // Digits of the same run that are no date still keep a number from ending there.
  assertEquals(found("NHS number 401 023 2137 5"), []);
});

Deno.test("a card followed directly by its expiry, its CVV or a port is classified alone", () => {
  for (
    const [text, value] of [
      ["card 4111111111111111/12/27", "4111111111111111"],
      ["card 4111 1111 1111 1111/12/27", "4111 1111 1111 1111"],
      ["card=4111111111111111:123", "4111111111111111"],
      ["5555555555554444/0926", "5555555555554444"],
      ["4111 1111 1111 1111:12:27:123", "4111 1111 1111 1111"],
      ["visa 4111-1111-1111-1111/0127", "4111-1111-1111-1111"],
      ["card 4111111111111111-123", "4111111111111111"],
      ["card 4111-1111-1111-1111-123", "4111-1111-1111-1111"],
      // Schemes only the recognizers know: JCB 15 and a labeled twelve-digit Maestro.
      ["charge ok 180072951817569/12/27", "180072951817569"],
      ["jcb 180072951817569:123", "180072951817569"],
      ["jcb 1800 7295 1817 569-123", "1800 7295 1817 569"],
      ["Maestro card 6759 0480 6352/12", "6759 0480 6352"],
    ]
  ) assertEquals(found(text), [["credit_card", value]], text);
  assertEquals(found("ssn 536-22-1234/1980"), [["us_ssn", "536-22-1234"]]);
  // A date after a space is still its own value, and a card inside a path or a code is no value.
  assertEquals(found("card 4111 1111 1111 1111 12/27"), [["credit_card", "4111 1111 1111 1111"]]);
  assertEquals(found("charge ok 1800 7295 1817 569 12/27"), [
    ["credit_card", "1800 7295 1817 569"],
  ]);
  for (
    const text of [
      "/api/4111111111111111/123",
      "/api/180072951817569/123",
      "orders/180072951817569:7",
      "x180072951817569/12",
      "ref 180072951817568/12/27",
      "1800-7295-1817-5690-1234",
      // The last group and the path after it are no date: the number is not cut to an Aadhaar.
      "GET /api/4595 8574 8631 6363/123",
    ]
  ) assertEquals(found(text), [], text);
  assertEquals(found("SSN 536-22-1234 2024/05/01"), [["us_ssn", "536-22-1234"]]);
  assertEquals(found("card 4111 1111 1111 1111 12/2027"), [["credit_card", "4111 1111 1111 1111"]]);
});

Deno.test("a US passport is nine digits or a letter and eight digits", () => {
  assertEquals(found("Passport no. C03005988"), [["us_passport", "C03005988"]]);
  assertEquals(found("passport number 340020013"), [["us_passport", "340020013"]]);
  assertEquals(found("passport C030059881"), []);
});

Deno.test("twelve-digit cards need a label, grouped or not; one that is also an Aadhaar needs one too", () => {
  assertEquals(found("ref 6759 0480 6352"), []);
  assertEquals(found("ref 675904806352"), []);
  assertEquals(found("Maestro card 6759 0480 6352"), [["credit_card", "6759 0480 6352"]]);
  // Luhn-valid with a Maestro prefix and Verhoeff-valid: either, so neither without a label.
  const twelve = "50182677977" + verhoeffCheckDigit("50182677977");
  const grouped = `${twelve.slice(0, 4)} ${twelve.slice(4, 8)} ${twelve.slice(8)}`;
  if (luhnValid(twelve)) assertEquals(found(`ref ${grouped}`), []);
  assertEquals(found(`Aadhaar ${grouped}`), [["in_aadhaar", grouped]]);
});

Deno.test("a grouped ABN is not read as a phone from its second group", () => {
  assertEquals(found("supplier 15 062 984 812"), [["au_abn", "15 062 984 812"]]);
});

Deno.test("date-of-birth labels in Italian, Polish, Dutch, Portuguese, Japanese, Korean, Russian, Swedish, Turkish", () => {
  for (
    const [label, date] of [
      ["Data di nascita:", "14/02/1979"],
      ["Data urodzenia:", "03.11.1985"],
      ["Geboortedatum:", "21-06-1990"],
      ["Data de nascimento:", "09/09/1971"],
      ["生年月日：", "1983/04/17"],
      ["생년월일:", "1992.07.30"],
      ["Дата рождения:", "25.12.1968"],
      ["Födelsedatum:", "1975-03-08"],
      ["Doğum tarihi:", "01.05.1988"],
    ]
  ) assertEquals(found(`${label} ${date}`), [["date_of_birth", date]], label);
});

Deno.test("webhook URLs are secrets, not plain URLs", () => {
  const slack = "https://hooks.slack.com/services/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";
  assertEquals(found(`SLACK_WEBHOOK_URL=${slack}`), [["secret", slack]]);
  assertEquals(found("see https://api.slack.com/messaging/webhooks"), [
    ["url", "https://api.slack.com/messaging/webhooks"],
  ]);
});

Deno.test("a German bank label lifts a lower-case IBAN; a codice fiscale needs a possible day", () => {
  assertEquals(found("Bankverbindung de89370400440532013000"), [
    ["iban", "de89370400440532013000"],
  ]);
  assert(italianFiscalCodeValid("RSSMRA85T10H501O"));
  assert(italianFiscalCodeValid("BNCLRA90A75F205Y") === false);
  assert(italianFiscalCodeValid("RSSMRA85T35H501C") === false);
  assert(italianFiscalCodeValid("RSSMRA85T10A562S"));
});

Deno.test("values grouped by no-break and other fixed-width spaces are found, at their own offsets", () => {
  for (
    const [text, type, value] of [
      [
        "card 4111\u00a01111\u00a01111\u00a01111",
        "credit_card",
        "4111\u00a01111\u00a01111\u00a01111",
      ],
      [
        "carte 4111\u202f1111\u202f1111\u202f1111",
        "credit_card",
        "4111\u202f1111\u202f1111\u202f1111",
      ],
      ["call +44\u00a020\u00a07946\u00a00958", "phone", "+44\u00a020\u00a07946\u00a00958"],
      ["ssn 536\u00a022\u00a01234", "us_ssn", "536\u00a022\u00a01234"],
    ]
  ) assertEquals(found(text), [[type, value]], text);
});

Deno.test("a phone ends where its number does, and a '+' number is a phone after any label", () => {
  for (
    const [text, value] of [
      ["call +1 415 555 2671 100 times", "+1 415 555 2671"],
      ["+44 20 7946 0958 12 times a day", "+44 20 7946 0958"],
      ["the fix lot +1 415 555 2671", "+1 415 555 2671"],
    ]
  ) assertEquals(found(text), [["phone", value]], text);
  // A reference label before a national number still decides, as before.
  assertEquals(found("lot 415 555 2671"), []);
});

Deno.test("a card split by one line break in a message is found whole", () => {
  for (
    const [text, value] of [
      ["card 4111 1111\n1111 1111 thanks", "4111 1111\n1111 1111"],
      ["Please charge my Visa 4111 1111 1111\n1111 before Friday.", "4111 1111 1111\n1111"],
      ["Amex 3782 822463\r\n10005, expiry 05/27", "3782 822463\r\n10005"],
      ["Kartennummer: 4111 1111\n1111 1111", "4111 1111\n1111 1111"],
      ["رقم البطاقة ٤١١١ ١١١١\n١١١١ ١١١١ شكرا", "٤١١١ ١١١١\n١١١١ ١١١١"],
    ]
  ) assertEquals(found(text), [["credit_card", value]], text);
  // With no card word on its line, a number over two lines is two rows of numbers.
  assertEquals(found("4111 1111\n1111 1111"), []);
});

Deno.test("every card word of the context words lets the scanner join a card over two lines", () => {
  // The scanner decides a card split by a line break itself (scan --file prints its findings as
  // they are): its card words hold every one the context layer has.
  const scanner = createScanner();
  for (const word of CONTEXT_WORDS.credit_card ?? []) {
    const text = `${word} 4111 1111\n1111 1111`;
    const value = "4111 1111\n1111 1111";
    assertEquals(scanner.scan(text).map((f) => text.slice(f.start, f.end)), [value], word);
    assertEquals(found(text), [["credit_card", value]], word);
  }
  scanner.free();
});

Deno.test("two rows of four-digit numbers are no card without a card word, whatever their digits", () => {
  const random = new Random(29);
  const block = () => random.digits(4);
  const templates: (() => string)[] = [
    () => `Amounts:\n${block()} ${block()}\n${block()} ${block()}\nThank you`,
    () => `Order ${block()} ${block()}\n${block()} ${block()}`,
    () => `${block()}-${block()}\n${block()}-${block()}`,
    () => `ABCD\n${block()} ${block()} ${block()}`.replace("ABCD", block()),
    () => `Tel\n${block()} ${block()}\n${block()} ${block()}`,
  ];
  for (const template of templates) {
    let cards = 0;
    let example = "";
    for (let i = 0; i < 3000; i++) {
      const text = template();
      const types = classifier.classify(text).types;
      if (types.includes("credit_card")) [cards, example] = [cards + 1, text];
    }
    assertEquals(cards, 0, JSON.stringify(example));
  }
  // A valid Aadhaar on the second line stays one.
  const aadhaar = "2345 6789 0124";
  assert(verhoeffValid(aadhaar.replaceAll(" ", "")));
  // (4007 and its twelve digits pass Luhn: a card word would join them.)
  assertEquals(found(`ref 4007\n${aadhaar}`), [["in_aadhaar", aadhaar]]);
  assertEquals(found(`card 4007\n${aadhaar}`), [["credit_card", `4007\n${aadhaar}`]]);
});

Deno.test("numbers on separate lines stay apart: paragraphs, tables, versions, dates, orders", () => {
  for (
    const text of [
      "card 4111 1111\n\n1111 1111",
      "Q1 totals\n4111 1111\n1111 1111\n2222 3333",
      "1234 5678\n4111 1111\n1111 1111",
      "card 4111 1111\n1111 1112",
      "release 4.1.1\n1111 1111 1111",
      "2024-01-05\n4111 1111 1111",
      "order ORD-4111 1111\n1111 1111",
      "ran 100 times\n2024 0101 results",
    ]
  ) assertEquals(found(text), [], text);
});

Deno.test("phones and cards in Arabic-Indic, Persian and fullwidth digits, at their own offsets", () => {
  for (
    const [text, type, value] of [
      ["call ٤١٥-٥٥٥-٢٦٧١ today", "phone", "٤١٥-٥٥٥-٢٦٧١"],
      ["اتصل بي على +٩٦٦ ٥٠ ١٢٣ ٤٥٦٧ شكرا", "phone", "+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧"],
      ["شماره تلفن من ۰۹۱۲ ۳۴۵ ۶۷۸۹ است", "phone", "۰۹۱۲ ۳۴۵ ۶۷۸۹"],
      // Ten bare digits led by 0 need a label, in Arabic and Persian as in any language.
      ["هاتف: ٠٥٠١٢٣٤٥٦٧", "phone", "٠٥٠١٢٣٤٥٦٧"],
      ["رقم الجوال ٠٥٠١٢٣٤٥٦٧", "phone", "٠٥٠١٢٣٤٥٦٧"],
      ["موبایل: ۰۹۱۲۳۴۵۶۷۸۹", "phone", "۰۹۱۲۳۴۵۶۷۸۹"],
      ["رقم البطاقة ٤١١١ ١١١١ ١١١١ ١١١١", "credit_card", "٤١١١ ١١١١ ١١١١ ١١١١"],
      ["کارت ۴۱۱۱۱۱۱۱۱۱۱۱۱۱۱۱ است", "credit_card", "۴۱۱۱۱۱۱۱۱۱۱۱۱۱۱۱"],
      // The Arabic letter mark, written between digits by bidi-aware editors, is dropped.
      ["card ٤١١١\u061c ١١١١ ١١١١ ١١١١", "credit_card", "٤١١١\u061c ١١١١ ١١١١ ١١١١"],
      ["tel ０２０ ７９４６ ０９５８", "phone", "０２０ ７９４６ ０９５８"],
      [
        "card ４１１１ １１１１ １１１１ １１１１",
        "credit_card",
        "４１１１ １１１１ １１１１ １１１１",
      ],
    ]
  ) assertEquals(found(text), [[type, value]], text);
  // Dates, years, versions and counts in those digits stay what they are.
  for (
    const text of [
      "عام ٢٠٢٤ ورقم ١٢٣٤٥",
      "التاريخ ٢٠٢٤/٠٥/٠١",
      "الإصدار ٤.١.١",
      "طلب رقم ٤١٥٥٥٥٢٦٧١",
      "عدد ٠٥٠١٢٣٤٥٦٧",
      "سال ۱۴۰۳ و ۱۲۳۴ ۵۶۷۸",
    ]
  ) assertEquals(found(text), [], text);
});
