/**
 * `a3s box ...`: a Docker-like CLI over the box manager. The commands live in `cli_commands.ts`,
 * loaded once one is asked for: they bring the manager, the drivers, the image registry client,
 * the builder and the CRI server, and `--help` needs none of them.
 */
import { importOnDemand, runCommand } from "@a3s/common/cli";
import { HELP } from "./cli_help.ts";

/** Runs `a3s box ...`; returns the exit code (a run returns its box's exit code). */
export function main(args: string[]): Promise<number> {
  const [command] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    return runCommand(() => {
      console.log(HELP);
      return Promise.resolve(command === undefined ? 2 : 0);
    });
  }
  return importOnDemand<typeof import("./cli_commands.ts")>("./cli_commands.ts", import.meta.url)
    .then((commands) => commands.runBoxCommand(args));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
