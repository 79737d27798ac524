/**
 * `a3s safeclaw`: scan, classify, injection verdicts, the audit log and the quality reports.
 * Only the plain `scan --file F` is loaded up front, without the argument parser: every other
 * command, the parser, the recognizers (libphonenumber) and the corpora (Faker) are imported
 * when used, so that a file's scan starts fast.
 */
import { importOnDemand, runCommand } from "@a3s/common/run-command";
import { UsageError } from "@a3s/common/errors";
import { plainFileScan, scanWholeFile } from "./cli_scan_file.ts";

/** One of this folder's modules, imported when used so that `scan --file` starts fast. */
function lazy<T>(path: string): Promise<T> {
  return importOnDemand<T>(path, import.meta.url);
}

const HELP = `Usage: a3s safeclaw <command> [options]

Commands:
  scan [--file F] [--jsonl] [--all]
                               find PII and secrets in text from F (default stdin) with the
                               WebAssembly scanner, streaming the bytes of F or stdin; --all adds the
                               recognizers (national IDs, wallets, MACs, URLs, dates of birth),
                               libphonenumber and context words
  classify [--file F] [--policy P] [--format json|table]
                               privacy level, action and findings of one text under a policy
  quality [--records N] [--seed S] [--corpus builtin|faker|all]
                               score the classifier on labeled corpora: the built-in
                               generator and Faker in 22 locales (default: all)
  injection [--file F] [--jsonl] [--source S] [--report]
                               prompt-injection verdicts (rules and the learned classifier);
                               --report scores them on the public and hand-written evaluation
                               sets beside a JS peer and published figures
  audit verify                 check the audit hash chain; exit 1 naming the first bad record
  audit ls [--severity S | --min-severity S] [--session ID] [--kind K]
           [--since T] [--until T] [--limit N] [--format json|table]
                               the newest N matching records (default 100), oldest first
  audit export [same filters]  every matching record as JSONL (--limit N: the first N)
  audit prune --until T [--dry-run] [--force]
                               delete records older than T behind a signed checkpoint; asks
                               first on a terminal unless --force
                               T: 2026-01-01, 2026-01-01T12:00:00Z, Unix seconds, or 10m/24h/7d ago
                               (audit takes --home and --database-url like serve)

scan prints the findings of one text as a JSON array of {type, start, end, confidence};
offsets are UTF-16 code units. With --jsonl, every input line is a JSON record with a
"text" field, and every output line is {"id": <the record's id>, "spans": [...]}.
injection --jsonl writes {"id", "injection", "score", "categories"} per record, in order.`;

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
      console.log(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === "scan") {
      // `scan --file F`, or `scan` alone reading stdin: streamed, with no parser loaded.
      const file = rest.length === 0 ? Deno.stdin : plainFileScan(rest);
      if (file !== undefined) {
        scanWholeFile(file);
        return 0;
      }
      return await (await lazy<typeof import("./cli_scan.ts")>("./cli_scan.ts"))
        .scanCommand(rest, HELP);
    }
    if (command === "quality") {
      return (await lazy<typeof import("./cli_quality.ts")>("./cli_quality.ts"))
        .qualityCommand(rest, HELP);
    }
    if (command === "injection") {
      return await (await lazy<typeof import("./cli_injection.ts")>("./cli_injection.ts"))
        .injectionCommand(rest, HELP);
    }
    if (command === "classify") {
      return await (await lazy<typeof import("./cli_classify.ts")>("./cli_classify.ts"))
        .classifyCommand(rest, HELP);
    }
    if (command === "audit") {
      return await (await lazy<typeof import("./cli_audit.ts")>("./cli_audit.ts"))
        .auditCommand(rest, HELP);
    }
    throw new UsageError(`unknown safeclaw command '${command}'; run 'a3s safeclaw --help'`);
  });
}
