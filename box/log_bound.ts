/**
 * How much of a box's own output (its main command's stdout and stderr) stays on disk: Docker's
 * `--log-opt max-size=… --log-opt max-file=…`. Every box has a bound, so a box writing without
 * end cannot fill the host's disk: Docker's `local` driver's 20 MB a file and 5 files unless
 * the box asks for another. The newest output is kept; the oldest file goes.
 */
import { UsageError } from "@a3s/common";

/** A bound on one log stream: at most `maxFiles` files of at most `maxSize` bytes each. */
export interface LogBound {
  /** The largest a log file grows before it is rotated, in bytes. */
  maxSize: number;
  /** How many files a stream keeps, the one written now included. */
  maxFiles: number;
}

/** The bound of a box that names none: 20 MiB a file, 5 files (100 MiB per stream). */
export const DEFAULT_LOG_BOUND: LogBound = { maxSize: 20 * 1024 * 1024, maxFiles: 5 };

/** The smallest file size taken: smaller would rotate on nearly every write. */
export const MIN_LOG_SIZE = 1024;
/** The most files a stream may keep. */
export const MAX_LOG_FILES = 100;

/**
 * Docker's `max-size` forms (its `RAMInBytes`): a number, a decimal too, with an optional k, m,
 * g, t or p and an optional `b` or `ib`, in binary units: `10m`, `10mb`, `10MiB`, `1.5g`.
 * Case-insensitive by its classes, with no flags: the OpenAPI document carries only the source,
 * so an `/i` flag would be lost there (or leak into it), and generated clients would refuse
 * `20M`, or every value.
 */
export const LOG_SIZE: RegExp = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP]?)[iI]?[bB]?$/;

const UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** `10m` → 10485760; undefined when it is no size or under {@linkcode MIN_LOG_SIZE}. */
export function logSizeBytes(value: string): number | undefined {
  const match = LOG_SIZE.exec(value.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()]);
  return Number.isSafeInteger(bytes) && bytes >= MIN_LOG_SIZE ? bytes : undefined;
}

/**
 * `--log-opt max-size=10m --log-opt max-file=3`, over the default bound. Throws a
 * {@linkcode UsageError} naming the bad option (the CLI exits 2 with it).
 */
export function parseLogOpts(entries: readonly string[]): LogBound {
  const bound = { ...DEFAULT_LOG_BOUND };
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const key = eq === -1 ? entry : entry.slice(0, eq);
    const value = eq === -1 ? "" : entry.slice(eq + 1);
    if (key === "max-size") {
      const bytes = logSizeBytes(value);
      if (bytes === undefined) {
        throw new UsageError(
          `invalid --log-opt max-size '${value}': use a size of at least 1k, such as 10m or 1g`,
        );
      }
      bound.maxSize = bytes;
    } else if (key === "max-file") {
      const files = Number(value);
      if (!/^\d+$/.test(value) || files < 1 || files > MAX_LOG_FILES) {
        throw new UsageError(
          `invalid --log-opt max-file '${value}': use a whole number from 1 to ${MAX_LOG_FILES}`,
        );
      }
      bound.maxFiles = files;
    } else {
      throw new UsageError(`unknown --log-opt '${entry}': use max-size=SIZE or max-file=N`);
    }
  }
  return bound;
}
