/**
 * `a3s search "query"` and `a3s search index add|ls|rm`, on the data dir's store (or
 * `--database-url`), with the `search` section of the config. The commands live in
 * `cli_commands.ts`, loaded once one runs: the engines, the index and the config schema take most
 * of a second to load, `--help` none of it.
 */
import { importOnDemand, parseCommand, type ParsedArgs, runCommand } from "@a3s/common/cli";
import { UsageError } from "@a3s/common/errors";
import { WEB_ENGINE_NAMES } from "./engine_names.ts";

const HELP = `Usage: a3s search "QUERY" [options]
       a3s search index add PATH|URL...   add files, directories (recursively) or pages
       a3s search index ls [--prefix P]   list indexed documents
       a3s search index rm PATH|URI...    remove documents (a directory removes all under it)
       a3s search engines                 list engines and whether each is asked by default

With nothing configured, search answers from the local index (SQLite FTS5 in the data dir).
Web engines (${WEB_ENGINE_NAMES.join(", ")}) are asked when named
with --engines or enabled in the config's "search.engines" section.

Options:
  --engines a,b          engines to ask (default: local and the enabled ones)
  --limit N              results (default 10, at most 100)
  --page N               result page (default 1)
  --language TAG         such as en or zh-CN
  --safesearch LEVEL     off|moderate|strict (default moderate)
  --time-range RANGE     day|week|month|year
  --ranking METHOD       rrf|searxng (default rrf)
  --no-cache             ask the engines even when a cached answer exists
  --prefix P             for index ls: only URIs starting with P
  --format json|table    output format (default table); --json is short for --format json
  --home DIR             data dir (env A3S_HOME)
  --database-url URL     PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  -h, --help             show this help`;

const OPTIONS = {
  engines: { type: "string" },
  limit: { type: "string" },
  page: { type: "string" },
  language: { type: "string" },
  safesearch: { type: "string" },
  "time-range": { type: "string" },
  ranking: { type: "string" },
  "no-cache": { type: "boolean" },
  prefix: { type: "string" },
  format: { type: "string" },
  json: { type: "boolean" },
  home: { type: "string" },
  "database-url": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type Format = "json" | "table";

function formatOf(values: ParsedArgs["values"]): Format {
  if (values.json) return "json";
  const format = values.format ?? "table";
  if (format !== "json" && format !== "table") {
    throw new UsageError(`--format must be json or table, got '${format}'`);
  }
  return format;
}

/** Runs the `search` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const format = formatOf(values);
    if (!positionals.length) {
      throw new UsageError('missing query: a3s search "QUERY" (or index add|ls|rm)');
    }
    const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
      "./cli_commands.ts",
      import.meta.url,
    );
    return await commands.runSearchCommand(positionals, values, format);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
