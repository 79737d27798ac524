import { deepStrictEqual as assertEquals } from "node:assert";
import { AddedTokenSplitter } from "./added_tokens.ts";

Deno.test("added tokens split leftmost-longest and leave the rest as text", () => {
  const splitter = new AddedTokenSplitter([["<a>", 1], ["<ab>", 2], ["<abc>", 3], ["😀", 4]]);
  assertEquals(splitter.split("x<ab>y<abc><a>😀z<abd"), [
    { text: "x" },
    { text: "<ab>", id: 2 },
    { text: "y" },
    { text: "<abc>", id: 3 },
    { text: "<a>", id: 1 },
    { text: "😀", id: 4 },
    { text: "z<abd" },
  ]);
  assertEquals(splitter.split(""), []);
  assertEquals(new AddedTokenSplitter([]).split("plain"), [{ text: "plain" }]);
  assertEquals(new AddedTokenSplitter([["", 9]]).size, 0);
});
