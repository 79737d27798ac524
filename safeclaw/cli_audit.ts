/** `a3s safeclaw audit verify|ls|export|prune`: the audit chain from the shared store. */
import { intFlag, loadConfig, openStore, parseCommand, UsageError } from "@a3s/common";
import {
  type AuditFilter,
  AuditLog,
  type AuditRecord,
  SEVERITIES,
  type Severity,
} from "./audit/log.ts";
import { auditKey } from "./audit/key.ts";
import { SafeclawConfigSchema } from "./config.ts";
import { outputFormat, table } from "./_table.ts";

function timeFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const raw = String(value);
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n)) {
    throw new UsageError(`--${name} must be epoch milliseconds or an ISO date, got '${raw}'`);
  }
  return n;
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

/** Runs `a3s safeclaw audit <verify|ls|export>`. */
export async function auditCommand(args: string[], help: string): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(help);
    return sub === undefined ? 2 : 0;
  }
  if (!["verify", "ls", "export", "prune"].includes(sub)) {
    throw new UsageError(`unknown audit command '${sub}'; use verify, ls, export or prune`);
  }
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
    home: { type: "string" },
    "database-url": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (positionals.length) throw new UsageError(`audit ${sub} takes no arguments`);
  const filter: AuditFilter = {
    severity: severityFlag(values.severity, "severity"),
    minSeverity: severityFlag(values["min-severity"], "min-severity"),
    session: values.session as string | undefined,
    kind: values.kind as string | undefined,
    since: timeFlag(values.since, "since"),
    until: timeFlag(values.until, "until"),
  };
  const limit = intFlag(values, "limit") ?? 100;
  if (limit < 1) throw new UsageError(`--limit must be at least 1, got ${limit}`);
  const format = outputFormat(values, sub === "verify" ? "table" : "table");
  const config = loadConfig({
    flags: { home: values.home, databaseUrl: values["database-url"] },
    modules: [{ name: "safeclaw", configSchema: SafeclawConfigSchema }],
  });
  const section = SafeclawConfigSchema.parse(config.safeclaw ?? {});
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  try {
    const audit = await AuditLog.open(store, {
      hmacKey: await auditKey(section.auditKey, config.home),
    });
    if (sub === "verify") {
      const result = await audit.verify();
      if (format === "json") console.log(JSON.stringify(result));
      else if (result.ok) {
        const from = result.checkpointSeq === null
          ? ""
          : ` (after checkpoint ${result.checkpointSeq})`;
        console.log(`ok: ${result.records} records verify${from}`);
      } else {
        console.log(`TAMPERED: record ${result.firstBad!.seq}: ${result.firstBad!.reason}`);
      }
      return result.ok ? 0 : 1;
    }
    if (sub === "prune") {
      if (filter.until === undefined) {
        throw new UsageError("prune needs --until T (older records go)");
      }
      const deleted = await audit.prune(filter.until);
      console.log(`pruned ${deleted} records; a signed checkpoint keeps the rest verifiable`);
      return 0;
    }
    if (sub === "export") {
      const encoder = new TextEncoder();
      for await (const record of audit.iterate(filter)) {
        await Deno.stdout.write(encoder.encode(JSON.stringify(record) + "\n"));
      }
      return 0;
    }
    const records = await audit.list({ ...filter, limit });
    if (format === "json") console.log(JSON.stringify(records, null, 2));
    else {console.log(
        table(["SEQ", "TIME", "SEVERITY", "KIND", "SESSION", "DATA"], records.map(row)),
      );}
    return 0;
  } finally {
    await store.close();
  }
}
