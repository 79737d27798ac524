/** Fixed-width tables for the `--format table` output of list and inspect commands. */
import { UsageError } from "@a3s/common";

/** Renders `rows` under `header`, each column as wide as its widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The `--format` value: `json` or `table` (`--json` is shorthand for `json`). */
export function outputFormat(
  values: Record<string, unknown>,
  fallback: "json" | "table",
): "json" | "table" {
  if (values.json) return "json";
  const format = values.format as string | undefined;
  if (format === undefined) return fallback;
  if (format !== "json" && format !== "table") {
    throw new UsageError(`--format must be json or table, got '${format}'`);
  }
  return format;
}
