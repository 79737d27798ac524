/**
 * Who started a box, as its driver's pid record says: `run` starts a box before it writes the
 * box's row (so the store write overlaps the start), and a starter killed in between leaves a
 * box that no row names. Each driver records its name, the box's full id and the starter's
 * identity beside the box's process, and the manager's sweep asks each driver (`abandoned`)
 * which rowless state dir is its own and has lost its starter.
 */
import { basename } from "node:path";
import { isAlive, type ProcessIdentity, processIdentitySync } from "./_proc.ts";

/** The fields of a pid record that name the box and its starter. */
export interface StarterRecord {
  /** The driver that started the box (its `name`). */
  driver?: string;
  /** The box's full id (its state dir is named by the first 12 characters). */
  box?: string;
  /** The process that started the box. */
  owner?: ProcessIdentity;
}

/**
 * This process, as the starter of the boxes it starts (read once: a process's identity does
 * not change, and the start path should not read /proc for it every time).
 */
let thisProcess: ProcessIdentity | undefined;
function starterIdentity(): ProcessIdentity | undefined {
  thisProcess ??= processIdentitySync(Deno.pid);
  return thisProcess;
}

/** The record fields for a box this process starts with `driver` now. */
export function startedByThisProcess(driver: string, boxId: string): StarterRecord {
  return { driver, box: boxId, owner: starterIdentity() };
}

/**
 * The full id of the box in `stateDir` when its record is `driver`'s, names this very dir, and
 * its starter is gone; undefined otherwise (a record of another driver, one written before
 * records named their starter, a starter that lives and is about to write the row).
 */
export async function abandonedBox(
  stateDir: string,
  record: StarterRecord | undefined,
  driver: string,
): Promise<string | undefined> {
  if (!record?.box || !record.owner || record.driver !== driver) return undefined;
  if (basename(stateDir) !== record.box.slice(0, 12)) return undefined;
  return await isAlive(record.owner) ? undefined : record.box;
}

/**
 * Writes the pid record of a VM's host process `pid` that this process just spawned for
 * `driver`'s box `boxId`, with the driver's own `fields`. Read and written without an await
 * after the spawn: the record names this starter, so the manager's sweep finds a VM whose
 * starter dies before its row (see `abandonedBox`).
 */
export function writeStartedRecord(
  path: string,
  pid: number,
  driver: string,
  boxId: string,
  fields: Record<string, number>,
): void {
  const record = {
    pid,
    startTime: processIdentitySync(pid)?.startTime ?? "",
    ...fields,
    ...startedByThisProcess(driver, boxId),
  };
  Deno.writeTextFileSync(path, JSON.stringify(record));
}
