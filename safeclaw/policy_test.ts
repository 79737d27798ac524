import { assertEquals, assertRejects, assertThrows, testDir } from "@a3s/common/testing";
import { openStore, ValidationError } from "@a3s/common";
import { levelOf, loadPolicyFile, mergePolicies, parsePolicy } from "./policy.ts";
import { detectTee } from "./tee.ts";
import { Guard } from "./guard.ts";
import { SessionLevels } from "./sessions.ts";

Deno.test("a YAML policy file is validated and filled with defaults", async () => {
  const policy = await loadPolicyFile(new URL("./testdata/policy.yaml", import.meta.url).pathname);
  assertEquals(policy.localOnlyAt, "Sensitive");
  assertEquals(policy.actions.Sensitive, "local_only");
  assertEquals(policy.actions.Critical, "block");
  assertEquals(levelOf(policy, "date_of_birth"), "Critical");
  assertEquals(levelOf(policy, "email"), "Sensitive");
  assertEquals(policy.toolCalls.allowHosts, ["api.example.org", "*.internal.example"]);
  const error = assertThrows(
    () => parsePolicy({ actions: { Critical: "shrug" } }),
    ValidationError,
  );
  assertEquals(error.field, "actions.Critical");
  assertThrows(() => parsePolicy({ typo: true }), ValidationError);
  // A typo inside a section is an error too: it was dropped, and the default stayed.
  for (
    const typo of [
      { actions: { critical: "allow" } },
      { actions: { Critcal: "allow" } },
      { injection: { treshold: 0.99 } },
      { toolCalls: { allowhosts: ["x"] } },
    ]
  ) assertThrows(() => parsePolicy(typo), ValidationError, "Unrecognized key");
  // An inline policy is written over the file's section by section, key by key.
  const merged = parsePolicy(mergePolicies(
    { actions: { Sensitive: "local_only" }, types: { url: "Sensitive" } },
    { actions: { Critical: "local_only" } },
  ));
  assertEquals([merged.actions.Sensitive, merged.actions.Critical], ["local_only", "local_only"]);
  assertEquals(merged.types.url, "Sensitive");
  const dir = await testDir();
  await Deno.writeTextFile(`${dir}/bad.yaml`, "types: [unclosed");
  await assertRejects(() => loadPolicyFile(`${dir}/bad.yaml`), ValidationError);
});

Deno.test("TEE detection by guest device; Critical data refused without a TEE when required", async () => {
  const root = await testDir();
  assertEquals(detectTee(root), { kind: null, device: null });
  await Deno.mkdir(`${root}/dev`);
  // A plain file of the device's name is no TEE (`touch /dev/sev-guest` fooled it before).
  await Deno.writeFile(`${root}/dev/sev-guest`, new Uint8Array());
  await Deno.mkdir(`${root}/dev/tdx-guest`);
  assertEquals(detectTee(root), { kind: null, device: null });
  // Nor is a link to some character device (tee_test.ts has what is one).
  await Deno.symlink("/dev/null", `${root}/dev/tdx_guest`);
  assertEquals(detectTee(root).kind, null);
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const policy = parsePolicy({ requireTeeAt: "Critical", actions: { Critical: "local_only" } });
    const open = (tee: ReturnType<typeof detectTee>) =>
      Guard.open({ store, policy, hmacKey: "tee-test-key-0123456789", tee });
    const without = await open({ kind: null, device: null });
    const refused = await without.inspectInput({ session: "s1", text: "SSN 536-22-1947" });
    assertEquals(refused.action, "block");
    assertEquals(
      refused.reasons.at(-1),
      "Critical data needs a TEE (SEV-SNP or TDX) and this host has none",
    );
    without.close();
    const inside = await open({ kind: "tdx", device: "/dev/tdx_guest" });
    const allowed = await inside.inspectInput({ session: "s2", text: "SSN 536-22-1947" });
    assertEquals([allowed.action, allowed.localOnly], ["local_only", true]);
    inside.close();
  } finally {
    await store.close();
  }
});

Deno.test("the session ratchet never goes down, even under concurrent raises", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const sessions = await SessionLevels.open(store);
    await Promise.all([
      sessions.raise("s", "Critical"),
      sessions.raise("s", "Sensitive"),
      sessions.raise("s", "Normal"),
    ]);
    assertEquals(await sessions.get("s"), "Critical");
    assertEquals(await sessions.raise("s", "HighlySensitive"), "Critical");
    assertEquals(await sessions.get("other"), "Normal");
  } finally {
    await store.close();
  }
});
