/** Whether a path exists: the one check box's modules share. */

/** How {@linkcode exists} looks at the path. */
export interface ExistsOptions {
  /**
   * Look at the entry itself (`lstat`): a symlink exists even when what it names does not.
   * By default the path is followed (`stat`), so a dangling link does not exist.
   */
  noFollow?: boolean;
}

/** True when `path` exists (see {@linkcode ExistsOptions}); any failure to look reads false. */
export async function exists(path: string, options: ExistsOptions = {}): Promise<boolean> {
  const look = options.noFollow ? Deno.lstat : Deno.stat;
  return await look(path).then(() => true, () => false);
}

/** {@linkcode exists} without an await, for synchronous paths (probes, startup). */
export function existsSync(path: string, options: ExistsOptions = {}): boolean {
  try {
    if (options.noFollow) Deno.lstatSync(path);
    else Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
