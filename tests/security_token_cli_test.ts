/** `a3s token create|ls|revoke` against a real data dir, as a user runs it. */
import { assert, assertEquals } from "../common/_assert.ts";
import { openStore } from "../common/store.ts";
import { TokenStore } from "../common/security/tokens.ts";
import { runCli } from "./_serve.ts";

Deno.test("token CLI: create shows the token once, ls never, revoke stops it", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-token-cli-" });
  const env = { A3S_HOME: home, A3S_LOG_LEVEL: "silent" };
  try {
    const created = await runCli(
      [
        "token",
        "create",
        "--scope",
        "power:read",
        "--scope",
        "power:write",
        "--name",
        "ci",
        "--json",
      ],
      { env },
    );
    assertEquals(created.code, 0, created.stderr);
    const info = JSON.parse(created.stdout);
    assert(/^a3s_[0-9a-f]{16}_[\w-]{43}$/.test(info.token), info.token);
    assertEquals(info.scopes, ["power:read", "power:write"]);

    const listed = await runCli(["token", "ls", "--format", "json"], { env });
    assertEquals(listed.code, 0, listed.stderr);
    assert(!listed.stdout.includes(info.token), "ls must never print a secret");
    assertEquals(JSON.parse(listed.stdout)[0].name, "ci");
    const tableOut = await runCli(["token", "ls"], { env });
    assert(/^ID\s+NAME\s+SCOPES/.test(tableOut.stdout) && tableOut.stdout.includes("ci"));

    // Stored hashed: the database file holds no copy of the secret.
    const db = await Deno.readFile(`${home}/a3s.db`);
    assert(!new TextDecoder("latin1").decode(db).includes(info.token.slice(21)));

    const store = await openStore({ home });
    try {
      const tokens = await TokenStore.open(store);
      assertEquals((await tokens.verify(info.token))?.name, "ci");
      const revoked = await runCli(["token", "revoke", info.id], { env });
      assertEquals(revoked.code, 0, revoked.stderr);
      // A fresh reader refuses it at once; a running one within its one-second trust window.
      assertEquals(await (await TokenStore.open(store)).verify(info.token), undefined);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      assertEquals(await tokens.verify(info.token), undefined);
    } finally {
      await store.close();
    }
    const again = await runCli(["token", "revoke", info.id], { env });
    assertEquals(again.code, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("token CLI: bad usage exits 2 with one line", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-token-cli-" });
  try {
    for (
      const args of [
        ["token"],
        ["token", "create", "--scope", "root"],
        ["token", "revoke"],
        ["token", "ls", "--format", "yaml"],
        ["token", "frobnicate"],
      ]
    ) {
      const result = await runCli([...args, "--home", home]);
      assertEquals(result.code, 2, args.join(" "));
      assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert(result.stderr.startsWith("error: "), result.stderr);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
