/** The audit HMAC key: from config, else made once and kept in the data dir. */
import { join } from "node:path";

/**
 * The key to chain audit records with: `configured` when set, else the contents of
 * `<home>/safeclaw/audit.key`, created with 32 random bytes (mode 0600) on first use.
 */
export async function auditKey(configured: string | undefined, home: string): Promise<string> {
  if (configured) return configured;
  const dir = join(home, "safeclaw");
  const path = join(dir, "audit.key");
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dir, { recursive: true });
  const key = [...crypto.getRandomValues(new Uint8Array(32))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    await Deno.writeTextFile(path, key, { mode: 0o600, createNew: true });
    return key;
  } catch (error) {
    // Another process made it first: use theirs.
    if (error instanceof Deno.errors.AlreadyExists) return (await Deno.readTextFile(path)).trim();
    throw error;
  }
}
