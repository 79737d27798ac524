import { assert, assertEquals } from "@a3s/common/testing";
import { endUserKey, keyedSessionId } from "./session_isolation.ts";

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

Deno.test("keyedSessionId: the same for an agent and key on every run, apart for another agent or key", async () => {
  const id = await keyedSessionId("helper", "1:telegram:1");
  assert(/^ses_[0-9a-f]{20}$/.test(id), id);
  assertEquals(await keyedSessionId("helper", "1:telegram:1"), id);
  const others = await Promise.all([
    keyedSessionId("other", "1:telegram:1"),
    keyedSessionId("helper", "1:telegram:2"),
    // The name and key are not run together: no pair can pass for another.
    keyedSessionId('helper"', "1:telegram:1"),
  ]);
  assertEquals(new Set([id, ...others]).size, 4);
});
