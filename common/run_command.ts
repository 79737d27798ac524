/**
 * Running a command: its failures mapped to exit codes, the modules it loads on demand, its
 * stdin. Nothing here imports Node's compatibility layer, which takes a command about 17 ms to
 * start; `cli.ts` adds the argument parser (`node:util`'s `parseArgs`) for commands that parse.
 *
 * @module
 */
import { A3sError, UsageError } from "./errors.ts";

/**
 * Imports `path` (relative to `base`, a module's `import.meta.url`) when called, by a computed
 * specifier: a literal `import("./x.ts")` makes Deno load that module's whole graph when the
 * command starts (for `a3s` that was about a second), a computed one only when it is used.
 *
 * @example
 * ```ts
 * import { importOnDemand } from "@a3s/common/run-command";
 * const errors = await importOnDemand<typeof import("./errors.ts")>("./errors.ts", import.meta.url);
 * console.log(typeof errors.UsageError); // "function"
 * ```
 */
export function importOnDemand<T>(path: string, base: string | URL): Promise<T> {
  return import(new URL(path, base).href) as Promise<T>;
}

/** Reads all of stdin as text. */
export async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/**
 * The error a command reports when the file named by `path` cannot be read: a missing file, a
 * directory or a path through a file is bad usage (exit 2, one line naming the path); denied
 * access is a runtime failure (exit 1, one line). Anything else is returned as it is.
 *
 * @example
 * ```ts
 * import { fileReadError } from "@a3s/common/run-command";
 * const text = await Deno.readTextFile("deno.json").catch((e) => {
 *   throw fileReadError(e, "deno.json");
 * });
 * ```
 */
export function fileReadError(error: unknown, path: string): unknown {
  if (error instanceof Deno.errors.NotFound) return new UsageError(`no such file '${path}'`);
  if (error instanceof Deno.errors.IsADirectory) {
    return new UsageError(`'${path}' is a directory, not a file`);
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new UsageError(`no such file '${path}' (a part of the path is a file)`);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new A3sError("permission_denied", `cannot read '${path}': permission denied`);
  }
  return error;
}

/**
 * The file system's and the network's refusals (a port another process holds): the
 * environment's doing, not a bug, so they need no stack.
 */
const ENVIRONMENT_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.AlreadyExists,
  Deno.errors.AddrInUse,
  Deno.errors.AddrNotAvailable,
];

/**
 * Runs a command body and maps failures to exit codes: usage and input errors print one line
 * and return 2 (a name that does not exist included: it is input to fix, as the project's
 * rule for bad input says); a named runtime failure or a file system or network refusal prints
 * one line and returns 1; anything else (a bug) prints its stack and returns 1. A reader that
 * goes away (`| head`) ends the command quietly, with 0, as it does for Unix tools.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? 0;
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    if (error instanceof UsageError || (error instanceof A3sError && error.status < 500)) {
      const where = error instanceof A3sError && error.field ? ` (${error.field})` : "";
      console.error(`error: ${error.message}${where}`);
      return 2;
    }
    // A runtime failure we named (a broker down, a driver missing) is one line; only an
    // unexpected error, a bug, earns its stack.
    if (error instanceof A3sError || ENVIRONMENT_ERRORS.some((type) => error instanceof type)) {
      console.error(`error: ${(error as Error).message}`);
      return 1;
    }
    console.error(`error: ${(error as Error)?.stack ?? error}`);
    return 1;
  }
}
