/**
 * An audit anchor: the log's newest verified record, signed with the log's key, to be kept
 * where whoever can write the store cannot (another machine, a write-once volume, a ticket).
 * The store alone cannot tell a log cut back to an older signed head, or wiped whole, from one
 * that was never longer; checked against an anchor, it can.
 *
 * An anchor protects only as well as the place it is kept: whoever can also rewrite or truncate
 * the anchor file can roll it back together with the store, and then verify cannot tell. Keep
 * the file on another volume, another machine or an append-only medium (`chattr +a`, WORM
 * storage, a log shipper), not beside the database.
 */
import { ValidationError } from "@a3s/common/errors";

/** A signed claim that the log held record `seq`, whose hash was `hash`. */
export interface AuditAnchor {
  /** The record's sequence number. */
  seq: number;
  /** The record's hash (hex), which chains it to every record before it. */
  hash: string;
  /** HMAC-SHA256 (hex) of the two under the log's key: only the log's owner can make one. */
  signature: string;
}

const PREFIX = "a3s-audit-anchor:v1";
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The anchor as one line, to paste or append anywhere.
 *
 * @example
 * ```ts
 * import { formatAnchor } from "./anchor.ts";
 * const hex = "ab".repeat(32);
 * console.log(formatAnchor({ seq: 7, hash: hex, signature: hex }).startsWith("a3s-audit-anchor:v1:7:"));
 * // true
 * ```
 */
export function formatAnchor(anchor: AuditAnchor): string {
  return `${PREFIX}:${anchor.seq}:${anchor.hash}:${anchor.signature}`;
}

/**
 * Reads an anchor from its line (or a text whose last such line is taken, as a file that
 * anchors are appended to). Throws a 400 naming `field` when there is none.
 *
 * @example
 * ```ts
 * import { parseAnchor } from "./anchor.ts";
 * const hex = "ab".repeat(32);
 * console.log(parseAnchor(`old note\na3s-audit-anchor:v1:7:${hex}:${hex}`).seq); // 7
 * ```
 */
export function parseAnchor(text: string, field = "anchor"): AuditAnchor {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith(PREFIX));
  const line = lines.at(-1) ?? text.trim();
  const [prefix, version, seq, hash, signature, ...extra] = line.split(":");
  if (
    `${prefix}:${version}` !== PREFIX || !/^[1-9]\d{0,15}$/.test(seq ?? "") ||
    !HEX64.test(hash ?? "") || !HEX64.test(signature ?? "") || extra.length
  ) {
    throw new ValidationError(
      `${field}: must be a line '${PREFIX}:<seq>:<hash>:<signature>' as 'safeclaw audit anchor' prints`,
      field,
    );
  }
  return { seq: Number(seq), hash: hash!, signature: signature! };
}

/** One anchor line of an anchor file, with where it stands in the file. */
export interface AnchorLine {
  /** 1-based line number in the file. */
  line: number;
  /** The anchor, when the line parses; undefined for a malformed anchor line. */
  anchor?: AuditAnchor;
}

/**
 * Every anchor line of a file that anchors are appended to (lines that do not start with the
 * anchor prefix are notes, and skipped). Several processes may append to one file, so its last
 * line need not be its newest anchor: callers take the highest seq.
 *
 * @example
 * ```ts
 * import { parseAnchorLines } from "./anchor.ts";
 * const hex = "ab".repeat(32);
 * console.log(parseAnchorLines(`a3s-audit-anchor:v1:7:${hex}:${hex}\n`)[0].anchor?.seq); // 7
 * ```
 */
export function parseAnchorLines(text: string): AnchorLine[] {
  const out: AnchorLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line.startsWith(PREFIX)) return;
    try {
      out.push({ line: index + 1, anchor: parseAnchor(line) });
    } catch {
      out.push({ line: index + 1 });
    }
  });
  return out;
}

/**
 * Appends `line` to the anchor file at `path`, creating it (mode 0600) when missing, without
 * following a symlink: the path is predictable, and whoever can plant a link there would have
 * this process create, or append to, any file it may write. The path is checked with lstat, a
 * missing file is created exclusively (`O_CREAT | O_EXCL`, which refuses any link, dangling or
 * not), and an existing one is checked after opening to be the very file the path names, so a
 * link swapped in between is refused too. One short line per write, opened for append: lines
 * from several processes interleave whole, never mixed.
 *
 * @example
 * ```ts
 * import { appendAnchorLine } from "./anchor.ts";
 * const dir = await Deno.makeTempDir();
 * await appendAnchorLine(`${dir}/anchors`, "a3s-audit-anchor:v1:...");
 * console.log((await Deno.readTextFile(`${dir}/anchors`)).endsWith("\n")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendAnchorLine(path: string, line: string): Promise<void> {
  const data = new TextEncoder().encode(line + "\n");
  // Twice at most: another process may create the file between the lstat and the create.
  for (let attempt = 0;; attempt++) {
    const before = await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (before && !before.isFile) throw notAFile(path, before);
    let file: Deno.FsFile;
    try {
      file = before
        ? await Deno.open(path, { append: true })
        : await Deno.open(path, { append: true, createNew: true, mode: 0o600 });
    } catch (error) {
      const raced = before
        ? error instanceof Deno.errors.NotFound
        : error instanceof Deno.errors.AlreadyExists;
      if (raced && attempt === 0) continue;
      throw error;
    }
    try {
      if (before) {
        const opened = await file.stat();
        const now = await Deno.lstat(path);
        if (!now.isFile || opened.ino !== now.ino || opened.dev !== now.dev) {
          throw notAFile(path, now);
        }
      }
      for (let written = 0; written < data.length;) {
        written += await file.write(data.subarray(written));
      }
      return;
    } finally {
      file.close();
    }
  }
}

function notAFile(path: string, info: Deno.FileInfo): Error {
  const what = info.isSymlink ? "a symlink" : info.isDirectory ? "a directory" : "not a plain file";
  return new Error(
    `the audit anchor file ${path} is ${what} (or was swapped while opening): refusing to ` +
      "write through it; configure the anchor file's real path, on a volume only this service " +
      "writes",
  );
}
