/**
 * Reading a box's log across the files its keeper rotated (agent/log_keeper.c): `FILE` is being
 * written, `FILE.1` is the newest rotated one, `FILE.2` older... A reader counts a stream's bytes
 * from its start, as the pipes carried them; `FILE.offset` says where `FILE` starts in that count
 * (absent: at 0, a log never rotated or written by a driver without a keeper). Reads are
 * synchronous, as the manager's log reads are: each is a local file's chunk.
 */

/** The most rotated files looked for; the keeper's own limit is far lower. */
const MAX_ROTATED = 100;
/** How many times a read starts over when the keeper rotated while it opened the files. */
const OPEN_TRIES = 50;
/** After this many quick tries, a read waits a millisecond for a rotation (a descheduled keeper). */
const QUICK_TRIES = 4;
/** What the keeper appends to `FILE.offset` while it renames the files. */
const ROTATING = " rotating";

/** `FILE.offset`'s text, compared whole: a rotation rewrites it before and after (log_keeper.c). */
function readMarkSync(path: string): string {
  try {
    return Deno.readTextFileSync(`${path}.offset`);
  } catch {
    return "";
  }
}

/** Where `FILE` starts in the stream's count, from `FILE.offset`'s text. */
function startOf(mark: string): number {
  const start = Number(mark.replace(ROTATING, "").trim());
  return Number.isSafeInteger(start) && start > 0 ? start : 0;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function openSync(path: string): Deno.FsFile | undefined {
  try {
    return Deno.openSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** One of a log's files, open, and where it starts in the stream's count. */
interface OpenPart {
  file: Deno.FsFile;
  start: number;
}

/**
 * The log's files, oldest first, opened while `FILE.offset` read the same, unmarked, before and
 * after: no rename happened meanwhile, and an open file keeps its bytes whatever the keeper
 * renames or deletes later.
 */
function openParts(path: string, from: number): OpenPart[] {
  for (let attempt = 0;; attempt++) {
    const mark = readMarkSync(path);
    const start = startOf(mark);
    const parts: OpenPart[] = [];
    const current = openSync(path);
    if (current) parts.push({ file: current, start });
    // Rotated files only when the reader is behind the current file's start.
    let before = start;
    for (let k = 1; k <= MAX_ROTATED && from < before; k++) {
      const file = openSync(`${path}.${k}`);
      if (!file) break;
      before -= file.statSync().size;
      parts.unshift({ file, start: before });
    }
    const settled = !mark.includes(ROTATING) && readMarkSync(path) === mark;
    if (settled || attempt + 1 >= OPEN_TRIES) return parts;
    for (const part of parts) part.file.close();
    // Synchronous as every read here is; a rotation takes microseconds unless the keeper waits.
    if (attempt >= QUICK_TRIES) Atomics.wait(pause, 0, 0, 1);
  }
}

/**
 * The log's bytes from `offset.value` on (advanced as they are read); a reader whose bytes were
 * rotated away goes on from the oldest kept.
 */
export function* readLogSince(
  path: string,
  offset: { value: number },
): Generator<Uint8Array> {
  const parts = openParts(path, offset.value);
  try {
    const buffer = new Uint8Array(65536);
    for (const { file, start } of parts) {
      const size = file.statSync().size;
      if (start + size <= offset.value && file !== parts.at(-1)?.file) continue;
      // Gone past the oldest file kept: go on from there.
      if (offset.value < start) offset.value = start;
      file.seekSync(offset.value - start, Deno.SeekMode.Start);
      for (;;) {
        const n = file.readSync(buffer);
        if (n === null || n === 0) break;
        offset.value += n;
        yield buffer.slice(0, n);
      }
    }
  } finally {
    for (const part of parts) part.file.close();
  }
}

/** Where the log ends in its stream's count: what `attach` shows from. */
export function logEnd(path: string): Promise<number> {
  // The current file and its start as a rotation left them, never halfway through one.
  const parts = openParts(path, Infinity);
  try {
    const current = parts.at(-1);
    return Promise.resolve(
      current ? current.start + current.file.statSync().size : startOf(readMarkSync(path)),
    );
  } finally {
    for (const part of parts) part.file.close();
  }
}

/** The longest a reader waits for a keeper still writing an ended box's last output. */
const KEEPER_WAIT_MS = 2000;

/** Whether the log's keeper runs: its `FILE.keeper` pid file is there and names a live process. */
export function logKeeperAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(`${path}.keeper`).trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until the log's keeper has written everything the box's pipes held and gone, at most a
 * couple of seconds. Called once the box is seen ended: its last output may still be in a pipe.
 */
export async function awaitLogKeeper(path: string): Promise<void> {
  const deadline = performance.now() + KEEPER_WAIT_MS;
  for (let delay = 1; logKeeperAlive(path) && performance.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** A box's own logs in its state dir, as the manager names them. */
const BOX_LOGS = ["stdout.log", "stderr.log"];

/**
 * Removes a box's state dir once the keepers of its logs are gone. A keeper still writing what the
 * pipes held as the box was killed creates a new log file while the dir is emptied: the removal
 * failed (not empty) and left the dir, log files and all, behind.
 */
export async function removeStateDir(stateDir: string): Promise<void> {
  await Promise.all(BOX_LOGS.map((name) => awaitLogKeeper(`${stateDir}/${name}`)));
  await Deno.remove(stateDir, { recursive: true });
}
