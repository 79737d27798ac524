/**
 * The help of `a3s safeclaw` and of each of its commands, apart so that printing one loads none
 * of the commands: they bring the recognizers (libphonenumber), the corpora (Faker), the
 * injection model and the store, and took 0.5 to 1 s to print a screen of text.
 */

/** The text of `a3s safeclaw --help`: every command, in short. */
export const HELP = `Usage: a3s safeclaw <command> [options]

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
  audit verify [--anchor LINE|FILE]
                               check the audit hash chain; exit 1 naming the first bad record
  audit anchor                 sign the newest record: a line to keep outside the store
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
injection --jsonl writes {"id", "injection", "score", "categories"} per record, in order.

Run 'a3s safeclaw <command> --help' for one command's options.`;

/** The text of `a3s safeclaw scan --help`. */
export const SCAN_HELP = `Usage: a3s safeclaw scan [--file F] [--jsonl] [--all]

Finds PII and secrets in one text and prints them as a JSON array of
{type, start, end, confidence}; offsets are UTF-16 code units.

Options:
  -f, --file F   read F (default stdin, also for -); streamed, never held whole
  --jsonl        each input line a JSON record with "text"; prints {"id", "spans"} per record
  --all          add the recognizers (national IDs, wallets, URLs, ...), phones and context words
  -h, --help     show this help`;

/** The text of `a3s safeclaw classify --help`. */
export const CLASSIFY_HELP =
  `Usage: a3s safeclaw classify [--file F] [--policy P] [--format json|table]

Prints the privacy level, action and findings of one text under a policy.

Options:
  -f, --file F         read F (default stdin, also for -)
  --policy P           the policy file (default: the built-in policy)
  --format FORMAT      json or table (default json)
  --json               short for --format json
  -h, --help           show this help`;

/** The text of `a3s safeclaw quality --help`. */
export const QUALITY_HELP =
  `Usage: a3s safeclaw quality [--records N] [--seed S] [--corpus builtin|faker|all]

Scores the classifier on labeled corpora: precision, recall and F1 per type.

Options:
  --records N          records per corpus (default 5000)
  --seed S             seed of the generated records (default 20240601)
  --corpus C           builtin (the generator), faker (Faker in 22 locales) or all (default)
  -h, --help           show this help`;

/** The text of `a3s safeclaw injection --help`. */
export const INJECTION_HELP =
  `Usage: a3s safeclaw injection [--file F] [--jsonl] [--source S] [--report]

Prompt-injection verdicts from the rules and the learned classifier, as JSON.

Options:
  -f, --file F         read F (default stdin, also for -)
  --jsonl              each input line is a JSON record with "text" (and "source"); prints
                       {"id", "injection", "score", "categories"} per record, in order
  --source S           where the text came from: user (default), document, web, email, tool_result
  --report             score the verdicts on the public and hand-written evaluation sets
  -h, --help           show this help`;

/** The text of `a3s safeclaw audit --help`. */
export const AUDIT_HELP = `Usage: a3s safeclaw audit verify|anchor|ls|export|prune [options]

Commands:
  verify               check the hash chain; exit 1 naming the first bad record
  anchor               sign the newest record of a log that verifies: a line to keep
                       outside the store (another machine, a write-once file)
  ls                   the newest N matching records (default 100), oldest first
  export               every matching record as JSONL (--limit N: the first N)
  prune --until T      delete records older than T behind a signed checkpoint

Options:
  --severity S         ls, export: only this severity (info, warning, critical)
  --min-severity S     ls, export: this severity or a higher one
  --session ID         ls, export: only this session
  --kind K             ls, export: only this kind of record
  --since T            ls, export: records from T on
  --until T            ls, export: records before T; prune: delete those before T
  --limit N            ls, export: at most N records
  --anchor LINE|FILE   verify: also check the log still holds the anchored record (a log
                       cut back below it, or wiped, fails); a file: its last anchor line
  --format FORMAT      verify, anchor, ls: json or table (default table)
  --json               verify, anchor, ls: short for --format json
  --dry-run            prune: count what would go, delete nothing
  -f, --force          prune: do not ask first on a terminal
  --home DIR           data dir (env A3S_HOME)
  --database-url URL   PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help           show this help

T: 2026-01-01, 2026-01-01T12:00:00Z, Unix seconds, or a duration back from now (10m, 24h, 7d).`;

/** Each command's help, by its name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  scan: SCAN_HELP,
  classify: CLASSIFY_HELP,
  quality: QUALITY_HELP,
  injection: INJECTION_HELP,
  audit: AUDIT_HELP,
};
