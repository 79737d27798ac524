import { assert, assertEquals } from "@a3s/common/testing";
import { Deadlines } from "./deadlines.ts";
import { splitTarget } from "./gateway.ts";

Deno.test("deadlines fire once, a little late at most, and never after cancel", async () => {
  const deadlines = new Deadlines(5);
  try {
    const fired: string[] = [];
    const started = Date.now();
    let firedAt = 0;
    deadlines.add(30, () => {
      fired.push("late");
      firedAt = Date.now();
    });
    const cancelled = deadlines.add(30, () => fired.push("cancelled"));
    deadlines.cancel(cancelled);
    for (let i = 0; i < 100 && !fired.length; i++) await new Promise((r) => setTimeout(r, 5));
    assertEquals(fired, ["late"]);
    assert(firedAt - started >= 30, `fired after ${firedAt - started} ms`);
    assertEquals(deadlines.size, 0);
  } finally {
    deadlines.close();
  }
});

Deno.test("splitTarget takes the path and query off an absolute URL without parsing it again", () => {
  assertEquals(splitTarget("http://a.example:8080/x/y?q=1&r=2"), {
    origin: "http://a.example:8080",
    path: "/x/y",
    search: "?q=1&r=2",
  });
  assertEquals(splitTarget("https://[::1]/"), { origin: "https://[::1]", path: "/", search: "" });
  assertEquals(splitTarget("http://h/p#frag"), { origin: "http://h", path: "/p", search: "" });
  assertEquals(splitTarget("http://h/p?a#f"), { origin: "http://h", path: "/p", search: "?a" });
});
