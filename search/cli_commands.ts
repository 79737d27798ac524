/** The search commands `cli.ts` runs once their arguments are parsed. */
import { intFlag, loadConfig, openStore, type ParsedArgs, UsageError } from "@a3s/common";
import { resolve } from "node:path";
import type { Format } from "./cli.ts";
import { type SearchConfig, SearchConfigSchema } from "./config.ts";
import { addPath, addUrl, type IngestSummary } from "./local/ingest.ts";
import { toFileUrl } from "./local/_file_url.ts";
import { SearchService } from "./search.ts";
import type { SafeSearch, TimeRange } from "./types.ts";

function oneOf<T extends string>(
  values: ParsedArgs["values"],
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got '${raw}'`);
  }
  return raw as T;
}

/** Columns padded to their widest cell; the last column is not padded. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((row) =>
    row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()
  )
    .join("\n");
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function summaryLine(target: string, s: IngestSummary): string {
  return `${target}: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.skipped} skipped, ${s.removed} removed`;
}

async function openService(
  values: ParsedArgs["values"],
): Promise<SearchService & { close(): Promise<void> }> {
  const config = loadConfig({
    flags: { home: values.home, databaseUrl: values["database-url"] },
    modules: [{ name: "search", configSchema: SearchConfigSchema }],
  });
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  try {
    const service = await SearchService.open(store, config.search as SearchConfig);
    const closeBrowser = service.close.bind(service);
    return Object.assign(service, {
      close: async () => {
        await closeBrowser();
        await store.close();
      },
    });
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Runs a search, an `index` command or `engines`, as `positionals` say. */
export async function runSearchCommand(
  positionals: string[],
  values: ParsedArgs["values"],
  format: Format,
): Promise<number> {
  const [first, sub, ...rest] = positionals;
  if (first === "index") {
    if (sub !== "add" && sub !== "ls" && sub !== "rm") {
      throw new UsageError(`index needs add, ls or rm, got '${sub ?? ""}'`);
    }
    if (sub !== "ls" && !rest.length) {
      throw new UsageError(`index ${sub} needs at least one PATH or URI`);
    }
    if (sub === "ls" && rest.length) {
      throw new UsageError(`index ls takes no arguments, got '${rest[0]}'`);
    }
    const service = await openService(values);
    try {
      if (sub === "add") return await indexAdd(service, rest, format);
      if (sub === "rm") return await indexRemove(service, rest, format);
      return await indexList(service, values, format);
    } finally {
      await service.close();
    }
  }
  if (first === "engines" && positionals.length === 1) {
    const service = await openService(values);
    try {
      const engines = service.engines();
      console.log(
        format === "json" ? JSON.stringify(engines, null, 2) : table(
          ["ENGINE", "DEFAULT", "WEIGHT", "BREAKER", "RENDER", "BASE URL"],
          engines.map((e) => [
            e.name,
            e.enabled ? "yes" : "no",
            String(e.weight),
            e.breaker,
            e.render,
            e.baseUrl,
          ]),
        ),
      );
      return 0;
    } finally {
      await service.close();
    }
  }
  return await runSearch(positionals.join(" "), values, format);
}

async function runSearch(
  query: string,
  values: ParsedArgs["values"],
  format: Format,
): Promise<number> {
  const engines = typeof values.engines === "string"
    ? values.engines.split(",").map((s) => s.trim()).filter(Boolean)
    : undefined;
  const options = {
    engines,
    limit: intFlag(values, "limit"),
    page: intFlag(values, "page"),
    language: values.language as string | undefined,
    safeSearch: oneOf<SafeSearch>(values, "safesearch", ["off", "moderate", "strict"]),
    timeRange: oneOf<TimeRange>(values, "time-range", ["day", "week", "month", "year"]),
    ranking: oneOf(values, "ranking", ["rrf", "searxng"] as const),
    cache: values["no-cache"] ? false : undefined,
  };
  const service = await openService(values);
  try {
    const answer = await service.search(query, options);
    if (format === "json") {
      console.log(JSON.stringify(answer, null, 2));
      return 0;
    }
    console.log(
      answer.results.length
        ? table(
          ["#", "TITLE", "URL", "ENGINES", "SCORE"],
          answer.results.map((r, i) => [
            String(i + 1),
            clip(r.title, 60),
            clip(r.url, 70),
            r.engines.join(","),
            r.score.toPrecision(3),
          ]),
        )
        : `no results for '${answer.query}'`,
    );
    const stats = answer.engines.map((e) =>
      e.error
        ? `${e.engine} ${e.error.code}`
        : `${e.engine} ${e.count}${e.cached ? " cached" : ""} ${Math.round(e.latencyMs)}ms`
    );
    console.error(`engines: ${stats.join(", ")}; ${answer.tookMs} ms`);
    if (
      answer.engines.some((e) => e.engine === "local" && e.count === 0) &&
      await service.index.count() === 0
    ) {
      console.error("the local index is empty: fill it with 'a3s search index add PATH'");
    }
    return 0;
  } finally {
    await service.close();
  }
}

async function indexAdd(
  service: SearchService,
  targets: string[],
  format: Format,
): Promise<number> {
  const summaries: Array<{ target: string } & IngestSummary> = [];
  for (const target of targets) {
    const summary = /^https?:\/\//i.test(target)
      ? await addUrl(service.index, target)
      : await addPath(service.index, target).catch((error) => {
        if (error instanceof Deno.errors.NotFound) {
          throw new UsageError(`no such file or directory: ${target}`);
        }
        throw error;
      });
    summaries.push({ target, ...summary });
  }
  console.log(
    format === "json"
      ? JSON.stringify(summaries, null, 2)
      : summaries.map((s) => summaryLine(s.target, s)).join("\n"),
  );
  return 0;
}

async function indexRemove(
  service: SearchService,
  targets: string[],
  format: Format,
): Promise<number> {
  const removed: Array<{ target: string; removed: number }> = [];
  for (const target of targets) {
    let uri = target;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      const path = resolve(target);
      const isDir = await Deno.stat(path).then((s) => s.isDirectory).catch(() =>
        target.endsWith("/")
      );
      uri = toFileUrl(path) + (isDir ? "/" : "");
    }
    removed.push({ target, removed: await service.index.remove(uri) });
  }
  console.log(
    format === "json"
      ? JSON.stringify(removed, null, 2)
      : removed.map((r) => `${r.target}: ${r.removed} removed`).join("\n"),
  );
  return 0;
}

async function indexList(
  service: SearchService,
  values: ParsedArgs["values"],
  format: Format,
): Promise<number> {
  const documents = await service.index.list({
    prefix: values.prefix as string | undefined,
    limit: intFlag(values, "limit") ?? 1000,
  });
  if (format === "json") {
    console.log(
      JSON.stringify(
        { backend: service.index.backend, count: await service.index.count(), documents },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(
    documents.length
      ? table(
        ["URI", "TITLE", "SOURCE", "SIZE", "UPDATED"],
        documents.map((
          d,
        ) => [
          clip(d.uri, 80),
          clip(d.title, 50),
          d.source,
          String(d.size),
          new Date(d.updatedAt).toISOString(),
        ]),
      )
      : "the local index is empty",
  );
  console.error(`${await service.index.count()} documents (${service.index.backend})`);
  return 0;
}
