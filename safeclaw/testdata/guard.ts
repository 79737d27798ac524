/** A guard on a fresh SQLite store for tests: Sensitive data is redacted, originals restored. */
import { openStore } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";

/**
 * Runs `fn` with a new guard, then closes it and removes its store. `policy` is merged into the
 * test policy's top level (`types`, to change what a type counts as).
 */
export async function withGuard(
  fn: (guard: Guard) => Promise<void>,
  policy: Record<string, unknown> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({ actions: { Sensitive: "redact" }, restoreOriginals: true, ...policy }),
    hmacKey: "a key of at least sixteen bytes",
    tee: { kind: null, device: null },
  });
  try {
    await fn(guard);
  } finally {
    await guard.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}
