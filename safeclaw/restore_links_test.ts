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
