/**
 * a3s, the Agent Operating System. Import this file for the public API. Run it as
 * `deno run -A mod.ts <command>`, or run `cli.ts` the same way to start faster: it loads no
 * library code before the command.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./mod.ts";
 * console.log(loadConfig({ env: {} }).port); // 11434
 * ```
 * @module
 */
export * from "@a3s/common";

import { main } from "./cli.ts";

export { main };

if (import.meta.main) Deno.exit(await main(Deno.args));
