import { assertEquals, assertThrows } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import { assertPattern, assertSubject, matchSubject } from "./subject.ts";

Deno.test("subjects: NATS wildcard semantics", () => {
  const cases: [string, string, boolean][] = [
    ["box.*.started", "box.b1.started", true],
    ["box.*.started", "box.b1.stopped", false],
    ["box.*.started", "box.b1.x.started", false],
    ["lane.>", "lane.q.job", true],
    ["lane.>", "lane.q", true],
    ["lane.>", "lane", false],
    [">", "anything.at.all", true],
    ["*", "one", true],
    ["*", "one.two", false],
    ["a.b", "a.b", true],
    ["a.b", "a.b.c", false],
    ["*.>", "a.b", true],
  ];
  for (const [pattern, subject, expected] of cases) {
    assertEquals(matchSubject(pattern, subject), expected, `${pattern} ~ ${subject}`);
  }
});

Deno.test("subjects: invalid subjects and patterns name the field", () => {
  for (const bad of ["", "a..b", ".a", "a.", "a b", "a.*", "a.>"]) {
    const error = assertThrows(() => assertSubject(bad), ValidationError);
    assertEquals(error.field, "subject");
  }
  for (const bad of ["a.>.b", "a..b", "", "x y"]) {
    const error = assertThrows(() => assertPattern(bad, "subjects"), ValidationError);
    assertEquals(error.field, "subjects");
  }
  assertPattern("a.*.>");
});
