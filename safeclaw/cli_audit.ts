/** `a3s safeclaw audit verify|anchor|ls|export|prune`: the audit chain from the shared store. */
import { join } from "node:path";
import {
  A3sError,
  intFlag,
  loadConfig,
  openStore,
  outputFormat,
  parseCommand,
  renderTable,
  type Store,
  UsageError,
} from "@a3s/common";
import {
  type AuditFilter,
  AuditLog,
  type AuditRecord,
  SEVERITIES,
  type Severity,
} from "./audit/log.ts";
import { auditKey, auditKeyPath, missingAuditKey, readAuditKey } from "./audit/key.ts";
import { type AuditAnchor, formatAnchor, parseAnchor } from "./audit/anchor.ts";
import { AUDIT_HELP } from "./cli_help.ts";
import { SafeclawConfigSchema } from "./config.ts";

type Subcommand = "verify" | "anchor" | "ls" | "export" | "prune";

const FILTERS = ["severity", "min-severity", "session", "kind", "since", "until"];
const STORE = ["home", "database-url", "help"];

/** The flags each subcommand takes: any other is a usage error, never silently ignored. */
const FLAGS: Record<Subcommand, ReadonlySet<string>> = {
  verify: new Set([...STORE, "anchor", "format", "json"]),
  anchor: new Set([...STORE, "format", "json"]),
  ls: new Set([...STORE, ...FILTERS, "limit", "format", "json"]),
  export: new Set([...STORE, ...FILTERS, "limit"]),
  prune: new Set([...STORE, "until", "dry-run", "force"]),
};

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time as Docker's `--since` takes it: an RFC 3339 date or date-time, Unix seconds
 * (nine digits or more, so that a year alone is not read as a second of 1970), or a duration
 * back from now (`10m`, `24h`, `7d`).
 */
export function timeFlag(value: unknown, name: string, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const raw = String(value);
  const duration = /^(\d+)([smhd])$/.exec(raw);
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]];
  if (/^\d{9,}(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const at = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(raw)
    ? Date.parse(raw)
    : NaN;
  if (!Number.isFinite(at)) {
    throw new UsageError(
      `--${name} must be a date (2026-01-01, 2026-01-01T12:00:00Z), Unix seconds or a ` +
        `duration such as 10m, 24h or 7d; got '${raw}'`,
    );
  }
  return at;
}

function severityFlag(value: unknown, name: string): Severity | undefined {
  if (value === undefined) return undefined;
  if (!SEVERITIES.includes(value as Severity)) {
    throw new UsageError(`--${name} must be one of ${SEVERITIES.join(", ")}, got '${value}'`);
  }
  return value as Severity;
}

function row(r: AuditRecord): string[] {
  return [
    String(r.seq),
    new Date(r.ts).toISOString(),
    r.severity,
    r.kind,
    r.session ?? "-",
    JSON.stringify(r.data).slice(0, 80),
  ];
}

/** Runs `a3s safeclaw audit <verify|anchor|ls|export|prune>`. */
export async function auditCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(AUDIT_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (!(sub in FLAGS)) {
    throw new UsageError(
      `unknown audit command '${sub}'; use verify, anchor, ls, export or prune`,
    );
  }
  const subcommand = sub as Subcommand;
  const { values, positionals } = parseCommand(rest, {
    severity: { type: "string" },
    "min-severity": { type: "string" },
    session: { type: "string" },
    kind: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    limit: { type: "string" },
    format: { type: "string" },
    json: { type: "boolean" },
    anchor: { type: "string" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean", short: "f" },
    home: { type: "string" },
    "database-url": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(AUDIT_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`audit ${sub} takes no arguments`);
  for (const name of Object.keys(values)) {
    if (FLAGS[subcommand].has(name)) continue;
    const why = sub === "export" && (name === "format" || name === "json")
      ? " (it writes JSON lines)"
      : sub === "prune"
      ? " (it takes --until, --dry-run and --force)"
      : "";
    throw new UsageError(`audit ${sub} does not take --${name}${why}`);
  }
  if (values.severity !== undefined && values["min-severity"] !== undefined) {
    throw new UsageError("give --severity or --min-severity, not both");
  }
  const filter: AuditFilter = {
    severity: severityFlag(values.severity, "severity"),
    minSeverity: severityFlag(values["min-severity"], "min-severity"),
    session: values.session as string | undefined,
    kind: values.kind as string | undefined,
    since: timeFlag(values.since, "since"),
    until: timeFlag(values.until, "until"),
  };
  const limit = intFlag(values, "limit");
  if (limit !== undefined && limit < 1) {
    throw new UsageError(`--limit must be at least 1, got ${limit}`);
  }
  if (subcommand === "prune" && filter.until === undefined) {
    throw new UsageError("prune needs --until T (older records go)");
  }
  const format = subcommand === "export" || subcommand === "prune" ? "table" : outputFormat(values);
  const anchor = values.anchor === undefined ? undefined : await anchorFlag(String(values.anchor));
  const config = loadConfig({
    flags: { home: values.home, databaseUrl: values["database-url"] },
    modules: [{ name: "safeclaw", configSchema: SafeclawConfigSchema }],
  });
  const section = SafeclawConfigSchema.parse(config.safeclaw ?? {});
  // The anchor file the server appends to, checked by default; read loosely, since the schema
  // may not declare it.
  const anchorFile = (section as { auditAnchorFile?: unknown }).auditAnchorFile;
  const anchors = typeof anchorFile === "string" && anchorFile ? anchorFile : undefined;
  const readOnly = subcommand !== "prune" || values["dry-run"] === true;
  if (readOnly && !config.databaseUrl) {
    // Reading must not make a store: a mistyped --home would otherwise "verify" an empty one.
    const file = join(config.home, "a3s.db");
    const exists = await Deno.stat(file).then(() => true, () => false);
    if (!exists) {
      throw new A3sError(
        "store_not_found",
        `no store at ${file}: nothing was recorded in this data dir (check --home or A3S_HOME)`,
      );
    }
  }
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  try {
    if (subcommand === "prune" && !readOnly) {
      const key = await auditKey(
        section.auditKey,
        config.home,
        () => AuditLog.hasHistory(store),
      );
      const audit = await AuditLog.open(store, { hmacKey: key, anchorFile: anchors });
      try {
        return await prune(audit, filter.until!, values);
      } finally {
        await audit.close();
      }
    }
    const key = await readAuditKey(section.auditKey, config.home);
    if (subcommand === "prune") {
      return await prune(await openReader(store, key), filter.until!, values);
    }
    if (subcommand === "verify" || subcommand === "anchor") {
      if (key === undefined && (anchor || await AuditLog.hasHistory(store))) {
        throw missingAuditKey(auditKeyPath(config.home));
      }
      const audit = await openReader(store, key, anchors);
      if (subcommand === "anchor") return await printAnchor(audit, format);
      return await verify(audit, format, anchor);
    }
    const audit = await openReader(store, key);
    if (subcommand === "export") return await exportRecords(audit, filter, limit);
    return await list(audit, filter, limit ?? 100, format);
  } finally {
    await store.close();
  }
}

/**
 * The log for reading. Listing, exporting and a dry-run prune compute no MAC, so where no key was ever made (a
 * store that has no records either) a throwaway one stands in rather than one being kept.
 */
async function openReader(
  store: Store,
  key: string | undefined,
  anchorFile?: string,
): Promise<AuditLog> {
  const throwaway = () =>
    [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16)).join("");
  return await AuditLog.open(store, { hmacKey: key ?? throwaway(), anchorFile });
}

/**
 * `--anchor`: an anchor line, or a file of them (the last one counts: a file that anchors are
 * appended to, as a cron job would).
 */
async function anchorFlag(value: string): Promise<AuditAnchor> {
  const text = value.startsWith("a3s-audit-anchor:")
    ? value
    : await Deno.readTextFile(value).catch((error) => {
      throw new UsageError(
        `--anchor must be an anchor line or a file holding one; cannot read '${value}': ${
          error instanceof Error ? error.message : error
        }`,
      );
    });
  try {
    return parseAnchor(text, "--anchor");
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function printAnchor(audit: AuditLog, format: "json" | "table"): Promise<number> {
  const anchor = await audit.anchor();
  const line = anchor && formatAnchor(anchor);
  if (format === "json") console.log(JSON.stringify({ anchor: line, seq: anchor?.seq ?? null }));
  else if (line) console.log(line);
  else console.error("the log has no records yet: nothing to anchor");
  return 0;
}

async function verify(
  audit: AuditLog,
  format: "json" | "table",
  anchor?: AuditAnchor,
): Promise<number> {
  const result = await audit.verify(anchor ? { anchor } : {});
  if (format === "json") console.log(JSON.stringify(result));
  else if (result.ok) {
    const from = result.checkpointSeq === null ? "" : ` (after checkpoint ${result.checkpointSeq})`;
    const against = anchor ? `, and hold the anchored record ${anchor.seq}` : "";
    console.log(`ok: ${result.records} records verify${from}${against}`);
    // On stderr: stdout stays the one result line that scripts read.
    if (result.warning) console.error(`warning: ${result.warning}`);
  } else {
    const { seq, reason, row } = result.firstBad!;
    // Seq 0: no record can be named (a table dropped, a row whose seq is no number).
    const where = row !== undefined
      ? `row with seq ${JSON.stringify(row)}: `
      : seq === 0
      ? ""
      : `record ${seq}: `;
    console.log(`TAMPERED: ${where}${reason}`);
  }
  return result.ok ? 0 : 1;
}

async function prune(
  audit: AuditLog,
  until: number,
  values: Record<string, unknown>,
): Promise<number> {
  const going = await audit.prune(until, { dryRun: true });
  const when = new Date(until).toISOString();
  if (values["dry-run"]) {
    console.log(`would prune ${going} records older than ${when}`);
    return 0;
  }
  if (going > 0 && !values.force && Deno.stdin.isTerminal()) {
    // Docker's prune asks too; a script (stdin not a terminal) or --force does not.
    if (!confirm(`Delete ${going} audit records older than ${when}?`)) {
      console.error("nothing pruned");
      return 1;
    }
  }
  const deleted = await audit.prune(until);
  console.log(`pruned ${deleted} records; a signed checkpoint keeps the rest verifiable`);
  return 0;
}

async function exportRecords(
  audit: AuditLog,
  filter: AuditFilter,
  limit: number | undefined,
): Promise<number> {
  const encoder = new TextEncoder();
  let written = 0;
  for await (const record of audit.iterate(filter)) {
    if (limit !== undefined && written++ >= limit) break;
    await Deno.stdout.write(encoder.encode(JSON.stringify(record) + "\n"));
  }
  return 0;
}

async function list(
  audit: AuditLog,
  filter: AuditFilter,
  limit: number,
  format: "json" | "table",
): Promise<number> {
  // The newest records are the ones wanted, as with `tail` and `docker logs --tail`.
  const records = await audit.list({ ...filter, limit, newest: true });
  if (format === "json") console.log(JSON.stringify(records, null, 2));
  else {
    console.log(renderTable(
      ["SEQ", "TIME", "SEVERITY", "KIND", "SESSION", "DATA"],
      records.map(row),
      "no audit records match",
    ));
  }
  if (records.length === limit) {
    const total = await audit.count(filter);
    if (total > limit) {
      console.error(`the newest ${limit} of ${total} matching records; --limit N shows more`);
    }
  }
  return 0;
}
