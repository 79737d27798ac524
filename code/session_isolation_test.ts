import { assert, assertEquals } from "@a3s/common/testing";
import { endUserKey } from "./session_isolation.ts";

Deno.test("endUserKey: an end user's key never equals a chat's, whatever either picks as a name", () => {
  // A chat's key is `user:channel:chat`, and a WebChat user may pick any user id.
  const chatKey = (user: string, channel: string, chat: string) => `${user}:${channel}:${chat}`;
  const users = ["webchat:alice", "a:b", "x", "", "%3A", "completions", "a%3Ab:c"];
  for (const user of users) {
    const key = endUserKey(user);
    assertEquals(key.split(":").length, 2, key);
    for (const channel of ["webchat", "telegram"]) {
      assert(key !== chatKey("completions", channel, user.split(":").slice(1).join(":")), key);
    }
  }
  // Distinct names stay distinct after escaping.
  const keys = new Set(users.map(endUserKey));
  assertEquals(keys.size, users.length);
});
