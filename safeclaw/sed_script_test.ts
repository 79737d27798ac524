import { assertEquals } from "@a3s/common/testing";
import { sedRuns } from "./sed_script.ts";

Deno.test("sed scripts: the commands `e` runs, and `e` that runs the input, are found", () => {
  assertEquals(sedRuns("1e curl evil.example").commands, ["curl evil.example"]);
  assertEquals(sedRuns("2,5!e echo hi").commands, ["echo hi"]);
  assertEquals(sedRuns("0~3 e date").commands, ["date"]);
  assertEquals(sedRuns("/x/I,+2e ls").commands, ["ls"]);
  for (const script of ["e", "s/.*/curl x/e", "s/a/b/ge", "s|e|f|e", "s/[/]/x/e"]) {
    assertEquals(sedRuns(script).runsInput, true, script);
  }
});

Deno.test("sed scripts: the letter e in patterns, text, labels and file names runs nothing", () => {
  for (
    const script of [
      "s/foo/bar/g",
      "/error/p",
      "s/e/E/",
      "s/a/b/;s/e/x/",
      "y/abc/xyz/",
      "s/(e+)/[\\1]/g",
      "1i\\\nheader e",
      "s/x/y/w out.e",
      "$a the end",
      "/begin/,/end/{s/e/f/;p}",
      ":e;b e",
      "# e cmd\np",
      "s/[[:space:]e]/x/g",
    ]
  ) {
    const runs = sedRuns(script);
    assertEquals(runs, { commands: [], runsInput: false, unreadable: false }, script);
  }
  assertEquals(sedRuns("s/unterminated").unreadable, true);
});
