/**
 * Certificates from a directory: each `NAME.crt` (PEM chain) with its `NAME.key` becomes a
 * store entry with the path as its id. The directory is watched: a new, changed or removed pair
 * reaches the store without a restart, and a pair that does not parse is reported and skipped
 * while the others (and the last good version of it) keep serving.
 */
import type { Logger } from "@a3s/common";
import { CertificateError, type CertificateStore } from "./certificates.ts";

/** Reads every pair in `dir` into `store` and drops entries of this directory that are gone. */
export async function syncCertificateDir(
  dir: string,
  store: CertificateStore,
): Promise<{ loaded: string[]; errors: string[] }> {
  const loaded: string[] = [];
  const errors: string[] = [];
  const present = new Set<string>();
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) {
    if (item.isFile && item.name.endsWith(".crt")) names.push(item.name.slice(0, -4));
  }
  for (const name of names.sort()) {
    const id = `${dir}/${name}.crt`;
    present.add(id);
    try {
      const [cert, key] = await Promise.all([
        Deno.readTextFile(id),
        Deno.readTextFile(`${dir}/${name}.key`),
      ]);
      const before = store.entries().find((e) => e.id === id);
      if (before?.cert === cert && before.key === key) continue;
      store.set(id, { cert, key });
      loaded.push(id);
    } catch (error) {
      errors.push(
        error instanceof CertificateError ? error.message : `${id}: ${(error as Error).message}`,
      );
    }
  }
  for (const entry of store.entries()) {
    if (entry.id.startsWith(`${dir}/`) && !present.has(entry.id)) store.delete(entry.id);
  }
  return { loaded, errors };
}

/** Loads `dir` now and again after each burst of changes; returns the stop function. */
export async function watchCertificateDir(
  dir: string,
  store: CertificateStore,
  logger?: Logger,
  debounceMs = 100,
): Promise<() => void> {
  const report = (result: { loaded: string[]; errors: string[] }) => {
    for (const id of result.loaded) logger?.info("certificate loaded", { id });
    for (const error of result.errors) logger?.error("certificate not loaded", { error });
  };
  report(await syncCertificateDir(dir, store));
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  (async () => {
    try {
      for await (const _ of watcher) {
        clearTimeout(timer);
        // Writers replace a pair in several steps (key, then chain): act once they settle.
        timer = setTimeout(() => {
          if (!stopped) syncCertificateDir(dir, store).then(report, () => {});
        }, debounceMs);
      }
    } catch {
      // The watcher was closed.
    }
  })();
  return () => {
    stopped = true;
    clearTimeout(timer);
    watcher.close();
  };
}
