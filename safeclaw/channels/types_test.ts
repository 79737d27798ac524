import { assert, assertEquals } from "@a3s/common/testing";
import { SESSION_PATTERN } from "@a3s/lane";
import { sessionKey } from "./types.ts";

Deno.test("sessionKey: plain ids stay as they are; any other id still makes a key lane takes, and poses as no other", () => {
  assertEquals(sessionKey("telegram", "42", "-1001"), "42:telegram:-1001");
  assertEquals(sessionKey("slack", "U024BE7LH", "C024BE91L"), "U024BE7LH:slack:C024BE91L");
  const odd = [
    "josé",
    "a b",
    "nul\0here",
    "\ud800",
    "api:anonymous:x",
    "=3A",
    ":",
    "x".repeat(500),
  ];
  const keys = odd.map((user) => sessionKey("webchat", user, "ab12cd34"));
  for (const key of keys) {
    assert(SESSION_PATTERN.test(key), key);
    // Two colons exactly: the user's part cannot hold a third, nor the channel be forged.
    assertEquals(key.split(":").length, 3, key);
  }
  assertEquals(new Set(keys).size, odd.length);
  assertEquals(sessionKey("webchat", "josé", "c"), "jos=C3=A9:webchat:c");
});
