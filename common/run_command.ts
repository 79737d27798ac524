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
 * Runs a command body and maps failures to exit codes: usage and input errors print one line
 * and return 2; anything else prints the error and returns 1.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof A3sError && error.status < 500)) {
      const where = error instanceof A3sError && error.field ? ` (${error.field})` : "";
      console.error(`error: ${error.message}${where}`);
      return 2;
    }
    // A runtime failure we named (a broker down, a driver missing) is one line; only an
    // unexpected error, a bug, earns its stack.
    if (error instanceof A3sError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    console.error(`error: ${(error as Error)?.stack ?? error}`);
    return 1;
  }
}
