/**
 * `a3s safeclaw`: scan, classify, injection verdicts, the audit log and the quality reports.
 * Only the plain `scan --file F` is loaded up front, without the argument parser: every other
 * command, the parser, the recognizers (libphonenumber), the corpora (Faker) and the help texts
 * are imported when used, so that a file's scan starts fast.
 */
import { importOnDemand, runCommand } from "@a3s/common/run-command";
import { UsageError } from "@a3s/common/errors";
import { plainFileScan, scanWholeFile } from "./cli_scan_file.ts";

/** One of this folder's modules, imported when used so that `scan --file` starts fast. */
function lazy<T>(path: string): Promise<T> {
  return importOnDemand<T>(path, import.meta.url);
}

/** The help texts, imported only when one is asked for. */
function helpTexts(): Promise<typeof import("./cli_help.ts")> {
  return lazy<typeof import("./cli_help.ts")>("./cli_help.ts");
}

/**
 * Whether a command's arguments ask for its help: `--help` or `-h` before any `--`. Answered here,
 * where loading the command would first bring its recognizers, models or store.
 */
function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

function unknownCommand(command: string): UsageError {
  return new UsageError(`unknown safeclaw command '${command}'; run 'a3s safeclaw --help'`);
}

/**
 * Runs `a3s safeclaw <command>` and returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * await main(["--help"]);
 * ```
 */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const [command, ...rest] = args;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log((await helpTexts()).HELP);
      return command === undefined ? 2 : 0;
    }
    if (asksForHelp(rest)) {
      const { COMMAND_HELP } = await helpTexts();
      if (!Object.hasOwn(COMMAND_HELP, command)) throw unknownCommand(command);
      console.log(COMMAND_HELP[command]);
      return 0;
    }
    if (command === "scan") {
      // `scan --file F`, or `scan` alone reading stdin: streamed, with no parser loaded.
      const file = rest.length === 0 ? Deno.stdin : plainFileScan(rest);
      if (file !== undefined) {
        scanWholeFile(file);
        return 0;
      }
      return await (await lazy<typeof import("./cli_scan.ts")>("./cli_scan.ts"))
        .scanCommand(rest);
    }
    if (command === "quality") {
      return (await lazy<typeof import("./cli_quality.ts")>("./cli_quality.ts"))
        .qualityCommand(rest);
    }
    if (command === "injection") {
      return await (await lazy<typeof import("./cli_injection.ts")>("./cli_injection.ts"))
        .injectionCommand(rest);
    }
    if (command === "classify") {
      return await (await lazy<typeof import("./cli_classify.ts")>("./cli_classify.ts"))
        .classifyCommand(rest);
    }
    if (command === "audit") {
      return await (await lazy<typeof import("./cli_audit.ts")>("./cli_audit.ts"))
        .auditCommand(rest);
    }
    throw unknownCommand(command);
  });
}
