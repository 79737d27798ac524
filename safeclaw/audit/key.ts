/** The audit HMAC key: from config, else made once and kept in the data dir. */
import { join } from "node:path";
import { A3sError } from "@a3s/common/errors";

/** Where the key made for the data dir `home` is kept. */
export function auditKeyPath(home: string): string {
  return join(home, "safeclaw", "audit.key");
}

/**
 * `configured` when set, else the key kept in `home`, else undefined; never makes one. A kept
 * file shorter than 16 bytes is an A3sError naming the file.
 */
export async function readAuditKey(
  configured: string | undefined,
  home: string,
): Promise<string | undefined> {
  if (configured) return configured;
  const path = auditKeyPath(home);
  let kept: string;
  try {
    kept = (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // A damaged key file (emptied, cut short) must be named, not surface later as a stack trace
  // from the HMAC code, nor be replaced: records chained with the old key would be lost.
  if (new TextEncoder().encode(kept).length < MIN_KEY_BYTES) {
    throw new A3sError(
      "audit_key_invalid",
      `the audit key file ${path} holds ${kept ? "fewer than 16 bytes" : "nothing"}: ` +
        "it was damaged; restore it, or set safeclaw.auditKey (A3S_SAFECLAW_AUDIT_KEY)",
    );
  }
  return kept;
}

/** The shortest HMAC key the audit log takes, in UTF-8 bytes. */
export const MIN_KEY_BYTES = 16;

/**
 * The key to chain audit records with: `configured` when set, else the contents of
 * `<home>/safeclaw/audit.key`, created with 32 random bytes (mode 0600) on first use. When the
 * file is missing but `hasHistory` says the log already holds records, no key is made: those
 * records were chained with the lost one, and a new key would make every record after them
 * unverifiable as well.
 */
export async function auditKey(
  configured: string | undefined,
  home: string,
  hasHistory: () => Promise<boolean> = () => Promise.resolve(false),
): Promise<string> {
  const kept = await readAuditKey(configured, home);
  if (kept !== undefined) return kept;
  const path = auditKeyPath(home);
  if (await hasHistory()) throw missingAuditKey(path);
  await Deno.mkdir(join(home, "safeclaw"), { recursive: true });
  const key = [...crypto.getRandomValues(new Uint8Array(32))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    await Deno.writeTextFile(path, key, { mode: 0o600, createNew: true });
    return key;
  } catch (error) {
    // Another process made it first: use theirs.
    if (error instanceof Deno.errors.AlreadyExists) return await keyMadeElsewhere(home);
    throw error;
  }
}

/** The error for a log whose records outlived the key file they were chained with. */
export function missingAuditKey(path: string): A3sError {
  return new A3sError(
    "audit_key_missing",
    `the audit key ${path} is missing, but the audit log holds records chained with it: ` +
      "restore the file, or set safeclaw.auditKey (A3S_SAFECLAW_AUDIT_KEY) to the key",
  );
}

/**
 * The key another process just made: its file is created and then written, so it can be read
 * empty for a moment; read again briefly before calling it damaged.
 */
async function keyMadeElsewhere(home: string): Promise<string> {
  for (let attempt = 1;; attempt++) {
    try {
      return (await readAuditKey(undefined, home))!;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((wake) => setTimeout(wake, 20 * attempt));
    }
  }
}
