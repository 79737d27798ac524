import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { createScanner, type PiiType, scan } from "./mod.ts";

/** The values found in `text`, as `type:value`. */
function found(text: string): string[] {
  return scan(text).map((f) => `${f.type}:${text.slice(f.start, f.end)}`);
}

function assertFinds(type: PiiType, values: string[], wrap = (v: string) => `see ${v} here`) {
  for (const value of values) {
    assertEquals(found(wrap(value)), [`${type}:${value}`], `expected ${type} in ${wrap(value)}`);
  }
}

function assertNothing(texts: string[]) {
  for (const text of texts) assertEquals(found(text), [], `expected nothing in ${text}`);
}

Deno.test("emails are found and bounded by their domain", () => {
  assertFinds("email", [
    "ada.lovelace@example.org",
    "li_wang42@mail.example.co.uk",
    "x+tag@qq.com",
  ]);
  assertEquals(found("我的邮箱是wei@example.cn，谢谢"), ["email:wei@example.cn"]);
  assertNothing(["root@localhost", "@handle", "a@b", "foo@bar.1"]);
  // After a label or a scheme with no space; a URL's `//user:password@host` stays a secret.
  for (const prefix of ["email:", "to:", "mailto:", "Mail:"]) {
    assertEquals(found(`${prefix}ada@example.org`), ["email:ada@example.org"], prefix);
  }
  assertEquals(found("ftp://bob:letmein@files.example.org"), [
    "secret:ftp://bob:letmein@files.example.org",
  ]);
});

Deno.test("phone numbers need a plausible format", () => {
  assertFinds("phone", [
    "(415) 555-2671",
    "415-555-2671",
    "415.555.2671",
    "+1 415 555 2671",
    "+14155552671",
    "+44 20 7946 0958",
    "+86 138 0013 8000",
    "13800138000",
    "138-0013-8000",
    "01 23 45 67 89",
    "020 7946 0958",
  ]);
  assertNothing(["order 4155552671", "id 123 456 7890", "2024-01-15", "12:30:45", "+12 34"]);
  assertFinds("phone", ["123-456-7890", "(012) 345-6789"]);
});

Deno.test("cards must pass Luhn and fit an issuer", () => {
  assertFinds("credit_card", [
    "4111111111111111",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "3782 822463 10005",
    "6011000990139424",
  ]);
  assertNothing(["4111 1111 1111 1112", "1234567812345678", "9780306406157"]);
  assertEquals(found("4111 1111 1111 1111 2025"), ["credit_card:4111 1111 1111 1111"]);
});

Deno.test("IBANs must have their country's length and pass mod-97", () => {
  assertFinds("iban", [
    "DE89370400440532013000",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
  ]);
  assertNothing(["DE89370400440532013001", "DE8937040044053201300", "GB82 WEST 1234 5698 7654 33"]);
});

Deno.test("SSNs obey area, group and serial rules", () => {
  assertFinds("us_ssn", ["536-22-1947", "001 01 0001"]);
  assertEquals(found("SSN: 536221947"), ["us_ssn:536221947"]);
  assertNothing([
    "000-12-3456",
    "666-12-3456",
    "912-12-3456",
    "536-00-1947",
    "536-22-0000",
    "536221947",
  ]);
});

Deno.test("Chinese resident IDs need a valid date and check digit", () => {
  assertFinds("cn_id", ["11010519491231002X", "440524198001010013"]);
  assertNothing(["110105194912310021", "110105194913310028", "990105194912310021"]);
});

Deno.test("IPv4 and IPv6 addresses, but not versions or times", () => {
  assertFinds("ip_address", [
    "192.168.1.1",
    "10.0.0.254",
    "2001:db8::ff00:42:8329",
    "fe80::1",
    "::1",
  ]);
  assertFinds("ip_address", ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.128"]);
  assertEquals(found("connect to 10.1.2.3:8080"), ["ip_address:10.1.2.3"]);
  assertNothing(["version 1.2.3.4", "v1.2.3", "256.1.1.1", "1.2.3.4.5", "12:30:45", "std::vector"]);
  assertNothing(["00:1A:2B:3C:4D:5E", "dead:beef"]);
});

Deno.test("provider keys, JWTs and private keys are secrets; placeholders are not", () => {
  assertFinds("secret", [
    "AKIAZ3KD7QW2PXF9LM4T",
    "ghp_R8fK2mQ9xL4wT7vB1nC5hJ3gD6sA0pZeYuIo",
    "github_pat_11AQWERTY0mnbvcxzlkjhgf_" +
    "Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae2Bc4Qw8Er7Ty6Ui1Op3As9Df5Gh7Jk2Lz",
    "sk-proj-Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae",
    "sk-ant-api03-Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae2Bc4Qw8Er7Ty6Ui1Op3As9",
    "xoxb-263594206564-2343298417683-Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  ]);
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq3mD1x9Zt3Lw2kP8nQ\n" +
    "-----END RSA PRIVATE KEY-----";
  assertEquals(found(`key:\n${pem}\n`), [`secret:${pem}`]);
  assertNothing([
    "AKIAIOSFODNN7EXAMPLE",
    "api_key = YOUR_API_KEY",
    "sk-...",
    "token: <token>",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
  ]);
});

Deno.test("keys of the newer providers are secrets; the words and names they start like are not", () => {
  assertFinds("secret", [
    "hf_bI4hjgpwbUikLhFIzRTIncA38LWPz52bIT",
    "glpat-nuEeFiAizHbWQNQ5rlNA",
    "gldt-tlE0tSIF2wCryMgUiOBW",
    "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",
    "npm_PAtXraZ8eHDXpbvWkeKVmXd7JdkpFnhDFAEm",
    "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",
    "xai-AA6diLS1qLFXK6qNyHHP6uS7UEe2ZaVv4x3QUnu6JSE76wMjyFXWM69cO9AlF98NEtpu1QZBnMOYBKVD",
    "r8_meOGQ0SoFvqQRU7TkWyoPMdTYuIb8NAKi0JKp",
    "dop_v1_b53e9519777f3789ef413315f4b289b66f025b1dc07297648fe4231370447b0f",
    "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",
    "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",
    "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",
    "pypi-AgEIcHlwaS5vcmcNoGIWMrrVG50PvsxDtCqifMw04ZVrY5atInQUlnaLPMKl9nrz6jvdlAztHWG",
  ]);
  assertNothing([
    "from huggingface_hub import hf_hub_download",
    "npm_config_cache=/tmp/npm",
    "SGML and SG.1 are not keys",
    "shpat_placeholder and shpat_0000",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "the door, the doom, the dorm, the dope; py and pp and gl and sh",
    "dop_v1_not_hex_at_all_but_long_enough_to_be_read_as_anything_else_x",
    "gsk_short1",
    // Identifiers, not keys: camelCase and a constant's name.
    "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",
    "npm_PackageLockResolutionStrategyForWork",
    "HF_TOKEN=hf_YOURHUGGINGFACEACCESSTOKENHEREPLZ",
  ]);
});

Deno.test("credentials in URLs and high-entropy values next to key-like names", () => {
  assertEquals(found("see postgres://admin:S3cr3tPw9@db.example.com:5432/app."), [
    "secret:postgres://admin:S3cr3tPw9@db.example.com:5432/app",
  ]);
  assertEquals(found('config = {"client_secret": "Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1"}'), [
    "secret:Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1",
  ]);
  assertEquals(found("export API_TOKEN=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"), [
    "secret:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
  ]);
  assertEquals(found("password=hunter2"), []);
  assertEquals(found("password: Tr0ub4dor!3x"), ["secret:Tr0ub4dor!3x"]);
  assertNothing([
    "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "id = 550e8400-e29b-41d4-a716-446655440000",
    "api_key: 550e8400-e29b-41d4-a716-446655440000",
    "password=changeme",
    "https://user:password@example.com",
    "key_path=/etc/ssl/private/server.key",
  ]);
});

Deno.test("each secret-sounding word makes a key name, in any case and place; near misses do not", () => {
  const value = "Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1";
  const names = [
    "key",
    "API_KEY",
    "myKeyId",
    "token",
    "x-auth-Token",
    "client_secret",
    "SECRETS",
    "db.password",
    "user_pwd",
    "private_blob",
    "authorization",
    "OAuthState",
    "aws_credential",
    "Credentials",
    "bearer",
    "a".repeat(50) + "_token",
  ];
  for (const name of names) {
    assertEquals(found(`${name}=${value}`), [`secret:${value}`], name);
    assertEquals(found(`"${name}": "${value}"`), [`secret:${value}`], name);
  }
  // Near misses: the words' letters without the word, a word cut off, one past the 63
  // characters of name the scanner reads.
  assertNothing([
    `passage=${value}`,
    `credentix=${value}`,
    `credentia=${value}`,
    `kee=${value}`,
    `tokn=${value}`,
    `priv=${value}`,
    `aut=${value}`,
    `bear=${value}`,
    `secre_t=${value}`,
    `token${"a".repeat(60)}=${value}`,
  ]);
});

Deno.test("offsets are UTF-16 code units, across astral characters and CJK", () => {
  const text = "😀😀 联系 ada@example.org 或 13800138000";
  const [email, phone] = scan(text);
  assertEquals(text.slice(email.start, email.end), "ada@example.org");
  assertEquals(text.slice(phone.start, phone.end), "13800138000");
  assertEquals(email.start, 8);
});

Deno.test("options filter types and confidence; scanMany keeps order", () => {
  const scanner = createScanner({ types: ["email"] });
  const results = scanner.scanMany(["ada@example.org 10.0.0.1", "", "10.0.0.1"]);
  assertEquals(results.map((r) => r.map((f) => f.type)), [["email"], [], []]);
  scanner.free();
  assertThrows(() => scanner.scan("x"), Error, "freed");
  const strict = createScanner({ minConfidence: 0.96 });
  assertEquals(strict.scan("4111111111111111 and 10.0.0.1").map((f) => f.type), ["credit_card"]);
  strict.free();
});

Deno.test("memory stays bounded over many calls and large texts", () => {
  const scanner = createScanner();
  const chunk = "mail ada@example.org, card 4111 1111 1111 1111, ip 10.0.0.1. ".repeat(2000);
  scanner.scan(chunk);
  const settled = scanner.memoryBytes;
  for (let i = 0; i < 3000; i++) {
    assertEquals(scanner.scan(i % 2 ? "ip 10.0.0.1" : "nothing here").length, i % 2);
  }
  for (let i = 0; i < 20; i++) assertEquals(scanner.scan(chunk).length, 6000);
  assertEquals(scanner.memoryBytes, settled);
  assert(settled < 8 * 1024 * 1024, `memory grew to ${settled}`);
  scanner.free();
});

Deno.test("bearer tokens in headers are secrets", () => {
  assertEquals(found("Authorization: Bearer Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae"), [
    "secret:Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae",
  ]);
});

Deno.test("lone surrogates keep offsets aligned", () => {
  const text = "\uD800 x \uDC00 ada@example.org";
  const [email] = scan(text);
  assertEquals(text.slice(email.start, email.end), "ada@example.org");
});

Deno.test("random input: findings stay ordered, in bounds and shift with a prefix", () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const alphabet = "0123456789abcdefABCXYZ @.:-=+()/_\"'\n\u00e9\u4e2d\ud83d\ude00";
  const pieces = ["ada@example.org", "415-555-2671", "4111 1111 1111 1111", "10.0.0.1", "::1"];
  const scanner = createScanner();
  const deadline = Date.now() + 1500;
  for (let round = 0; round < 400 && Date.now() < deadline; round++) {
    let text = "";
    while (text.length < 300) {
      text += next() < 0.1
        ? ` ${pieces[Math.floor(next() * pieces.length)]} `
        : alphabet[Math.floor(next() * alphabet.length)];
    }
    const found = scanner.scan(text);
    let last = 0;
    for (const f of found) {
      assert(f.start >= last && f.start < f.end && f.end <= text.length, JSON.stringify(f));
      last = f.end;
    }
    const shifted = scanner.scan(`\n\n${text}`);
    assertEquals(
      shifted.map((f) => [f.type, f.start - 2, f.end - 2]),
      found.map((f) => [f.type, f.start, f.end]),
    );
  }
  scanner.free();
});

Deno.test("scanBytes reads UTF-8 bytes and reports the same UTF-16 offsets as scan", () => {
  const scanner = createScanner();
  const text = "电话 ada@example.org — 😀 card 4111 1111 1111 1111, ip 10.0.0.1 é";
  assertEquals(scanner.scanBytes(new TextEncoder().encode(text)), scanner.scan(text));
  assertEquals(scanner.lastUnits(), text.length);
  assertEquals(scanner.scanBytes(new Uint8Array()), []);
  assertEquals(scanner.lastUnits(), 0);
  scanner.free();
});

Deno.test("reserveBytes and scanReserved: bytes read into the scanner's memory scan as scanBytes does", () => {
  const scanner = createScanner();
  const bytes = new TextEncoder().encode(
    "电话 ada@example.org — 😀 card 4111 1111 1111 1111\nip 10.0.0.1 é\n",
  );
  const expected = scanner.scanBytes(bytes);
  const units = scanner.lastUnits();
  const view = scanner.reserveBytes(bytes.length + 100);
  view.set(bytes);
  assertEquals(scanner.scanReserved(bytes.length), expected);
  assertEquals(scanner.lastUnits(), units);
  assertThrows(() => scanner.scanReserved(bytes.length + 101), RangeError, "bytes asked");
  // What lies past the scanned length stays for the next scan, even when the scan's findings
  // grow the memory (which detaches the old view).
  const many = new TextEncoder().encode("ada@example.org ".repeat(50_000));
  const tail = new TextEncoder().encode("mail bob@example.com\n");
  let buffer = scanner.reserveBytes(many.length + tail.length);
  buffer.set(many);
  buffer.set(tail, many.length);
  const before = scanner.memoryBytes;
  assertEquals(scanner.scanReserved(many.length).length, 50_000);
  assert(scanner.memoryBytes > before && buffer.length === 0, "the findings grew the memory");
  buffer = scanner.reserveBytes(many.length + tail.length);
  buffer.copyWithin(0, many.length, many.length + tail.length);
  assertEquals(scanner.scanReserved(tail.length), scanner.scanBytes(tail));
  scanner.free();
});

Deno.test("scanReservedJson: the scanner's own JSON is what JSON.stringify writes for scanReserved's findings", () => {
  const text = "电话 ada@example.org — 😀 card 4111 1111 1111 1111 ip 10.0.0.1:8080 é " +
    "IBAN GB82 WEST 1234 5698 7654 32, SSN 536-22-1947, id 11010519491231002X " +
    "password=Xk9#mP2$vL7q call +1 415 555 2671 or (415) 555-2671, fe80::1ff:fe23:4567:890a " +
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- " +
    "api_key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0";
  const bytes = new TextEncoder().encode(text);
  const decode = (json: Uint8Array) => new TextDecoder().decode(json);
  const reserve = (scanner: ReturnType<typeof createScanner>) =>
    scanner.reserveBytes(bytes.length).set(bytes);
  const shifted = (findings: ReturnType<typeof scan>, offset: number) =>
    findings.map((f) => JSON.stringify({ ...f, start: f.start + offset, end: f.end + offset }))
      .join(",");

  const scanner = createScanner();
  reserve(scanner);
  const findings = scanner.scanReserved(bytes.length);
  assertEquals(new Set(findings.map((f) => f.type)).size, 8, "every type, to cover every name");
  assertEquals(new Set(findings.map((f) => f.confidence)).size >= 7, true);
  // Offsets of every digit count, on both sides of 2^32 (where the writer's 32-bit path ends).
  const offsets = [0, 1234, 99_999_990, 2 ** 32 - 300, 2 ** 32 - 1, 5_000_000_000, 2 ** 53 - 2000];
  for (const offset of offsets) {
    reserve(scanner);
    assertEquals(decode(scanner.scanReservedJson(bytes.length, offset)), shifted(findings, offset));
    assertEquals(scanner.lastUnits(), text.length);
  }
  assertThrows(() => scanner.scanReservedJson(bytes.length, -1), RangeError, "offset");
  assertThrows(() => scanner.scanReservedJson(bytes.length + 1), RangeError, "bytes asked");
  reserve(scanner);
  assertEquals(scanner.scanReservedJson(0).length, 0);
  scanner.free();

  // The scanner's options filter the JSON as they filter the objects.
  const some = createScanner({ types: ["phone", "secret", "email"], minConfidence: 0.85 });
  reserve(some);
  const kept = some.scanReserved(bytes.length);
  assertEquals(kept.map((f) => f.type), ["email", "phone", "phone", "secret"]);
  reserve(some);
  assertEquals(decode(some.scanReservedJson(bytes.length, 7)), shifted(kept, 7));
  some.free();
});

Deno.test("scanBytes: offsets after ill-formed UTF-8 are the ones TextDecoder's string has", () => {
  const scanner = createScanner();
  const check = (bytes: Uint8Array, what: string) => {
    const text = new TextDecoder().decode(bytes);
    const found = scanner.scanBytes(bytes);
    assertEquals(scanner.lastUnits(), text.length, `units of ${what}`);
    assertEquals(found, scanner.scan(text), `findings of ${what}`);
  };
  const mail = [...new TextEncoder().encode(" mail ada@example.org ok ")];
  // Latin-1 text (`°`, `é`, `ñ`, `ó` are each one byte there, ill-formed in UTF-8), a lone
  // continuation, an overlong form, a surrogate, a code point past U+10FFFF, sequences cut short
  // (at the end too), and valid four-byte ones beside them.
  const pieces = [
    [0xb0],
    [0xe9],
    [0xf1],
    [0xf3],
    [0x80],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [
      0xf4,
      0x90,
      0x80,
      0x80,
    ],
    [0xf0, 0x9f, 0x98],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xff],
  ];
  for (const [k, piece] of pieces.entries()) {
    check(new Uint8Array([...piece, ...mail, ...piece]), `piece ${k}`);
    // Long enough that the block counts run in the middle of the text, not only at its ends.
    const long = [...mail, ...mail, ...piece, ...mail, ...piece, ...piece, ...mail, ...mail];
    check(new Uint8Array(long), `piece ${k} among text`);
  }
  // Seeded random mixes of valid multi-byte text and ill-formed bytes.
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const valid = ["é", "中文", "😀", " ", "x", "10.0.0.1 ", "4111 1111 1111 1111 "].map((t) => [
    ...new TextEncoder().encode(t),
  ]);
  for (let n = 0; n < 400; n++) {
    const bytes: number[] = [];
    const length = 20 + Math.floor(next() * 400);
    while (bytes.length < length) {
      bytes.push(
        ...(next() < 0.05
          ? pieces[Math.floor(next() * pieces.length)]
          : next() < 0.1
          ? mail
          : valid[Math.floor(next() * valid.length)]),
      );
    }
    check(new Uint8Array(bytes), `random text ${n}`);
  }
  scanner.free();
});

Deno.test("a date or a time after a number is a value of its own, not part of the number", () => {
  assertEquals(found("card 5425 2792 8201 0277 08/29"), ["credit_card:5425 2792 8201 0277"]);
  assertEquals(found("paid with 4556817839705230 11/28 cvv 042"), [
    "credit_card:4556817839705230",
  ]);
  assertEquals(found("card 4556-8178-3970-5230 03/2031"), ["credit_card:4556-8178-3970-5230"]);
  assertEquals(found("emp 219-09-9999 11/04/1975"), ["us_ssn:219-09-9999"]);
  assertEquals(found("+33 6 12 34 56 78 09:15"), ["phone:+33 6 12 34 56 78"]);
  assertEquals(found("ring 212-555-0147 16:45 sharp"), ["phone:212-555-0147"]);
  assertEquals(found("job=4556817839705230 23:59:59 done"), ["credit_card:4556817839705230"]);
  // A number that runs on through / or : is still a date, a time or an address with its port.
  assertNothing(["2024-05-01 10:00:01", "12 05/12", "4556817839705231/11"]);
  assertEquals(found("host 10.1.2.3:8080"), ["ip_address:10.1.2.3"]);
});

Deno.test("a card or an SSN followed directly by an expiry, a CVV or a port is found alone", () => {
  for (
    const [text, value] of [
      ["card 4111111111111111/12/27", "4111111111111111"],
      ["card 4111 1111 1111 1111/12/27", "4111 1111 1111 1111"],
      ["card=4111111111111111:123", "4111111111111111"],
      ["5555555555554444/0926", "5555555555554444"],
      ["4111 1111 1111 1111:12:27:123", "4111 1111 1111 1111"],
      ["visa 4111-1111-1111-1111/0127", "4111-1111-1111-1111"],
      ["4556817839705230/11", "4556817839705230"],
      ["4556817839705230:8443", "4556817839705230"],
      ["card 4556817839705230,11,28", "4556817839705230"],
      ["card 4111111111111111-123", "4111111111111111"],
      ["card 4111 1111 1111 1111-123", "4111 1111 1111 1111"],
      ["card 4111-1111-1111-1111-123", "4111-1111-1111-1111"],
      ["card 4111111111111111-12/27", "4111111111111111"],
      ["name 12 4111111111111111/12", "4111111111111111"],
      // A last group after a space belongs to the card when it starts no date or time.
      ["card=4222 2222 2222 2:123", "4222 2222 2222 2"],
      ["card=4068 1753 0088 1940 064:123", "4068 1753 0088 1940 064"],
      ["card 4068 1753 0088 1940 064/12/27", "4068 1753 0088 1940 064"],
    ]
  ) assertEquals(found(text), [`credit_card:${value}`], text);
  assertEquals(found("ssn 536-22-1234/1980"), ["us_ssn:536-22-1234"]);
  assertEquals(found("emp 536 22 1234-1980"), ["us_ssn:536 22 1234"]);
  assertEquals(found("id 11010519900307451X/1990"), ["cn_id:11010519900307451X"]);
  // The date reading still wins over a longer number: the date after a space is its own value.
  assertEquals(found("card 4111 1111 1111 1111 12/27"), ["credit_card:4111 1111 1111 1111"]);
  assertEquals(found("4556 8178 3970 5230 1/2024"), ["credit_card:4556 8178 3970 5230"]);
  assertNothing([
    "card 4222 2222 2222 2/12/27",
    // Not a valid card, or no card: the run stays a compound token.
    "4111111111111112/12/27",
    "ref 4111111111111112-123",
    "2024-05-01/12",
    // Inside a path or a longer code, a number is not a value of its own.
    "/api/4111111111111111/123",
    "orders/4111111111111111:7",
    "x4111111111111111/12",
    "id=20240501-4111111111111111-1",
    // A value that uses hyphens itself reads on through the last one.
    "536-22-1234-5678",
    "4111-1111-1111-1111-1234",
    "4111111111111111-12345",
    // Phones are no checked type: "415-555-2671/12" is a reference as often as a number.
    "415-555-2671/12",
    "415-555-2671-12",
  ]);
});

Deno.test("national numbers with a trunk 0 in their usual layouts", () => {
  assertFinds("phone", [
    "021 456 7788",
    "08-123 456 78",
    "011 4123-0096",
    "(0161) 4960001",
    "(089) 12345678",
    "098765 43210",
  ]);
  // 0XX-XX-XXXX is an SSN's layout; blocks of four are a card's or an account's; unbroken
  // digits led by 0 are as often a reference (the classifier decides with a context word).
  assertNothing(["see 078-00-1120 here", "see 0123 4567 8901 here", "see 0698765432 here"]);
});

Deno.test("a phone is not cut out of the middle of a longer number", () => {
  assertNothing(["supplier 15 062 984 812", "ref 7 0201 234 567"]);
  assertEquals(found("4556 8178 3970 5230 020 7946 0958"), [
    "credit_card:4556 8178 3970 5230",
    "phone:020 7946 0958",
  ]);
});

Deno.test("17- to 19-digit cards in blocks of four keep their last block", () => {
  assertFinds("credit_card", ["6221 6639 2332 1468 8", "5018 8197 3699 3563 24"]);
  // Ungrouped, 17 and 18 digits stay resident-ID shaped.
  assertNothing(["see 62216639233214688 here"]);
});

Deno.test("Slack and Discord webhook URLs are secrets; documentation examples are not", () => {
  assertFinds("secret", [
    "https://hooks.slack.com/services/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",
    "https://discord.com/api/webhooks/1572381163847385969/Pv5rDs079GVWSjfB_c42hBl409cyCjFXvrCOXTi9ez0ZrbOPyIUpF8L6VYudjfOL7ef8",
  ]);
  assertNothing([
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "https://hooks.slack.com/services/",
    "https://discord.com/api/webhooks/123/short",
    "https://slack.com/services/TPWUGBHKP/BSNO4CTNY3Q/62UdlnLffylIBSNjnKB5tZgf",
  ]);
});

Deno.test("a password after a label keeps its '&'", () => {
  assertEquals(found("password: Tr0ub4dor&3x"), ["secret:Tr0ub4dor&3x"]);
  assertEquals(found("password=Tr0ub4dor&3x"), ["secret:Tr0ub4dor&3x"]);
  // A query string's next parameter and a shell's `&&` still end it.
  assertEquals(found("/login?password=Tr0ub4dor&user=bob"), ["secret:Tr0ub4dor"]);
  assertEquals(found("password=Tr0ub4dor3x && ls"), ["secret:Tr0ub4dor3x"]);
});

Deno.test("database URLs with a password are found whole", () => {
  for (
    const url of [
      "postgres://app:s3cr3t-P@ss@db.internal:5432/app",
      "postgresql://app:s3cr3t-P@ss@db.internal:5432/app",
      "mysql://app:s3cr3t-P@ss@db.internal/app",
      "mongodb+srv://app:s3cr3t-P@ss@cluster0.x.net/app",
      "redis://:s3cr3tPass@cache.internal:6379",
    ]
  ) assertEquals(found(`DATABASE_URL=${url}`), [`secret:${url}`]);
});

Deno.test("long OpenAI project keys are found whole", () => {
  const body = "Ab3_Xy9-Kq2Lm4Wp8Rt7Yv3Nb6Hj1Df5Gs0Ae".repeat(7).slice(0, 240);
  const key = `sk-proj-${body}`;
  assertEquals(found(`key ${key} end`), [`secret:${key}`]);
  assertEquals(found(`OPENAI_API_KEY=${key}`), [`secret:${key}`]);
});

Deno.test("passwords given to commands on a command line", () => {
  assertEquals(found("mysql -u root -pSECRET app"), ["secret:SECRET"]);
  assertEquals(found("mysql -u root -p'S3 cret' app"), ["secret:S3 cret"]);
  assertEquals(found("mysqldump --password=SECRET app > a.sql"), ["secret:SECRET"]);
  assertEquals(found("sshpass -p SECRET ssh -p 2222 host"), ["secret:SECRET"]);
  assertEquals(found("curl -u user:SECRET https://example.com"), ["secret:SECRET"]);
  assertEquals(found("curl --user 'admin:hunter2' https://example.com"), ["secret:hunter2"]);
  assertNothing([
    "mysql -u root -p app",
    "mysql -u root -p$MYSQL_PWD app",
    'sshpass -p "$PASS" ssh host',
    "curl -u user https://example.com",
    "curl -s https://example.com | grep -p foo",
    "tar -xpf a.tar; ls -u dir",
    "ssh -p 2222 host",
    "mysql --password=<your-password>",
  ]);
});

Deno.test("a bracketed area code's number ends before a group from the words after it", () => {
  for (
    const [text, value] of [
      ["(415) 555-2671 100 times", "(415) 555-2671"],
      ["call (415) 555-0199 100 times", "(415) 555-0199"],
      ["(415) 555 2671 100 200", "(415) 555 2671"],
      ["(0141) 4960613 100 times", "(0141) 4960613"],
      ["(020) 7946 0958 12 times", "(020) 7946 0958"],
      ["(415) 555-2671 10:30", "(415) 555-2671"],
      ["(415) 555-2671 #14", "(415) 555-2671"],
    ]
  ) assertEquals(found(text), [`phone:${value}`], text);
  // A group joined by a hyphen or a dot is part of the run, which is then no phone; digits that
  // fit no layout without the trailing group stay unread.
  assertNothing(["(415) 555-2671-100", "(415) 555.2671.100", "(12) 3456 7890 1234"]);
});

Deno.test("a card split by one line break is found whole, in its printed layouts", () => {
  for (
    const value of [
      "4111 1111\n1111 1111",
      "4111 1111 1111\n1111",
      "4111\n1111 1111 1111",
      "4111 1111\r\n1111 1111",
      "5500-0000\n0000-0004",
      "3782 822463\n10005",
      "6221 6639 2332\n1468 8",
    ]
  ) {
    assertEquals(found(`card ${value} thanks`), [`credit_card:${value}`], value);
    // Without a card word, two rows of four-digit numbers are no card.
    assertEquals(found(value), [], value);
  }
  // A date after a space is a value of its own, as on one line.
  assertEquals(found("card 4111 1111\n1111 1111 12/27"), ["credit_card:4111 1111\n1111 1111"]);
});

Deno.test("a card split by one line break needs a card word before it on its line", () => {
  for (
    const label of [
      "Card:",
      "Credit card no.",
      "DEBIT",
      "my Visa is",
      "Mastercard",
      "amex",
      "Maestro",
      "UnionPay",
      "Diners Club",
      "JCB",
      "payment details:",
      "CC#",
      "PAN",
      "Kartennummer:",
      "Kreditkarte",
      "numéro de carte",
      "carta di credito",
      "número do cartão",
      "tarjeta",
      "numer karty",
      "卡号",
      "信用卡：",
      "カード番号",
      "رقم البطاقة",
      "بطاقة ائتمان",
      "شماره کارت",
      "cards on file: 1.",
    ]
  ) {
    const text = `${label} 4111 1111\n1111 1111 ok`;
    assertEquals(found(text), ["credit_card:4111 1111\n1111 1111"], text);
  }
  assertNothing([
    // No card word, or one on the line before (a label line stays with its own line).
    "Amounts:\n4111 1111\n1111 1111",
    "Card\n4111 1111\n1111 1111",
    // Words that only hold a card word ("discard", "scan", "accent") or start like one ("panel").
    "discard 4111 1111\n1111 1111",
    "scan 4111 1111\n1111 1111",
    "accent 4111 1111\n1111 1111",
    "panel 4111 1111\n1111 1111",
    // A card word that labels another value, or a sentence before this one.
    "card 4000 1234, then 4111 1111\n1111 1111",
    "Paid by card. Order 4111 1111\n1111 1111",
    "card ok; order 4111 1111\n1111 1111",
    // Further back than a label reaches.
    `card ${"x".repeat(60)} 4111 1111\n1111 1111`,
  ]);
});

/** Four random digits. */
function block(next: () => number): string {
  return String(Math.floor(next() * 10_000)).padStart(4, "0");
}

Deno.test("two rows of four-digit numbers are no card without a card word, whatever their digits", () => {
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const templates: ((b: () => string) => string)[] = [
    (b) => `Amounts:\n${b()} ${b()}\n${b()} ${b()}\nThank you`,
    (b) => `Order ${b()} ${b()}\n${b()} ${b()}`,
    (b) => `${b()}-${b()}\n${b()}-${b()}`,
    (b) => `${b()}\n${b()} ${b()} ${b()}`,
    (b) => `Tel\n${b()} ${b()}\n${b()} ${b()}`,
  ];
  const scanner = createScanner({ types: ["credit_card"] });
  for (const template of templates) {
    let cards = 0;
    let labelled = 0;
    for (let i = 0; i < 3000; i++) {
      const text = template(() => block(next));
      cards += scanner.scan(text).length;
      // The same rows after a card word: the ones that are a card's digits are found.
      labelled += scanner.scan(`card ${text.slice(text.search(/\d/))}`).length;
    }
    const example = template(() => "1234");
    assertEquals(cards, 0, example);
    assert(labelled > 30, `${example}: ${labelled} cards after a card word`);
  }
  scanner.free();
});

Deno.test("a first line of many groups before a long line leaves the scanner whole", () => {
  const probe = "SSN 536-22-1947, card 4111 1111 1111 1111, mail ada@example.org";
  const expected = [
    "us_ssn:536-22-1947",
    "credit_card:4111 1111 1111 1111",
    "email:ada@example.org",
  ];
  const scanner = createScanner();
  const probeFinds = () =>
    assertEquals(
      scanner.scan(probe).map((f) => `${f.type}:${probe.slice(f.start, f.end)}`),
      expected,
    );
  probeFinds();
  for (
    const hostile of [
      "1111 1 1 1 1 1 1 1\n" + "9 ".repeat(3000) + "\n",
      "card 1111 1 1 1 1 1 1 1\n" + "9 ".repeat(3000) + "\n",
      "1111 1111 1111 1111 1 1 1 1\r\n" + "1111 ".repeat(500),
      "4111 1111 1111\n" + "1 ".repeat(3000),
      "card 4111 1111\n" + "1111-".repeat(3000) + "1",
    ]
  ) {
    for (let round = 0; round < 3; round++) {
      assertEquals(scanner.scan(hostile), [], hostile.slice(0, 30));
      probeFinds();
    }
  }
  scanner.free();
});

Deno.test("a card after a bracketed number is the card, not a phone from its first blocks", () => {
  for (
    const [text, value] of [
      ["(01) 4111 1111 1111 1111", "4111 1111 1111 1111"],
      ["(02) 5500 0000 0000 0004", "5500 0000 0000 0004"],
      ["(05) 6011 0009 9013 9424", "6011 0009 9013 9424"],
      ["item (01) 3782 8224 6310 005", "3782 8224 6310 005"],
      ["(01)4111-1111-1111-1111", "4111-1111-1111-1111"],
      ["(01) 4111 1111 1111 1111 12/27", "4111 1111 1111 1111"],
      ["(415) 4111 1111 1111 1111 100 times", "4111 1111 1111 1111"],
    ]
  ) assertEquals(found(text), [`credit_card:${value}`], text);
  // A phone whose blocks are no card stays a phone.
  assertEquals(found("(01) 4111 1112 and more"), ["phone:(01) 4111 1112"]);
  assertEquals(found("(020) 7946 0958 1111"), ["phone:(020) 7946 0958"]);
});

Deno.test("numbers on different lines are not joined across paragraphs, tables or other layouts", () => {
  assertNothing([
    // A blank line, an indented line, a line break inside a block.
    "card 4111 1111\n\n1111 1111",
    "card 4111 1111\n \n1111 1111",
    "card 4111 1111\n  1111 1111",
    "card 4111 11\n11 1111 1111",
    // Rows of a table: over a row that starts with a number, blanks around the line break
    // aside; a row under another starts its line, where no card word stands before it.
    "card 4111 1111\n1111 1111\n2222 3333",
    "card 4111 1111\n1111 1111 \n\t2222 3333",
    "card 4111 1111\n1111 1111\r\n 2222 3333",
    "1234 5678\n4111 1111\n1111 1111",
    "Totals\n4111 1111\n1111 1111\n0042",
    "id 7\n2019 2020\n4111 1111\n1111 1111\n2021 2022",
    // Luhn fails, no issuer, mixed separators, no separator but the break, too many digits.
    "card 4111 1111\n1111 1112",
    "card 9111 1111\n1111 1110",
    "card 4111-1111\n1111 1111",
    "card 41111111\n11111111",
    "card 4111 1111\n1111 1111 2222",
    // A first line that no card starts with: more groups, or blocks other than 4-4-4 and 4-6.
    "card 4111 1111 1111 1\n111",
    "card 4111 11111\n11 1111",
    "card 4111 1 1 1\n1111 1111 1111",
    // Versions, dates and times, order numbers split over lines.
    "card version 4.1.1\n1111 1111",
    "card 2024-01-05\n4111 1111 1111",
    "card at 10:30\n4111 1111 1111",
    "card order ORD-4111 1111\n1111 1111",
  ]);
  // A card that fills its line is not extended by a number on the next one.
  assertEquals(found("card 4111 1111 1111 1111\n1234 end"), ["credit_card:4111 1111 1111 1111"]);
});

Deno.test("a bracketed number: blocks of four are no phone, a card over two lines after it is one card", () => {
  const scanner = createScanner();
  const read = (text: string) =>
    scanner.scan(text).map((f) => [f.type, text.slice(f.start, f.end)]);
  assertEquals(read("(06) 1739 3136 7303 9720"), []);
  assertEquals(read("Konto (01) 1234 5678 9012 3456"), []);
  assertEquals(read("card (01) 4111 1111\n1111 1111"), [["credit_card", "4111 1111\n1111 1111"]]);
  assertEquals(read("card no. (01) 4111 1111 1111\n1111"), [
    ["credit_card", "4111 1111 1111\n1111"],
  ]);
  // A CVV after the card's second line is left out of it, as on one line.
  assertEquals(read("card 4111 1111\n1111 1111 123"), [["credit_card", "4111 1111\n1111 1111"]]);
  // A phone over a row of numbers stays a phone.
  assertEquals(read("(020) 7946 0958\n1234 5678"), [["phone", "(020) 7946 0958"]]);
  scanner.free();
});
