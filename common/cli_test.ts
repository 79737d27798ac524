import { assertEquals, assertThrows } from "./testing.ts";
import { FORMAT_OPTIONS, outputFormat, parseCommand, renderTable } from "./cli.ts";
import { UsageError } from "./errors.ts";

const format = (args: string[]) => outputFormat(parseCommand(args, FORMAT_OPTIONS).values);

Deno.test("--format json|table, with --json short for json", () => {
  assertEquals(format([]), "table");
  assertEquals(format(["--format", "table"]), "table");
  assertEquals(format(["--format", "json"]), "json");
  assertEquals(format(["--json"]), "json");
  assertEquals(format(["--json", "--format", "json"]), "json");
  assertThrows(() => format(["--format", "yaml"]), UsageError, "--format must be json or table");
  assertThrows(() => format(["--json", "--format", "table"]), UsageError, "contradicts");
});

Deno.test("tables align their columns and say when they are empty", () => {
  assertEquals(
    renderTable(["ID", "STATE"], [["a1", "queued"], ["b", "dead"]]),
    [
      "ID  STATE",
      "a1  queued",
      "b   dead",
    ].join("\n"),
  );
  assertEquals(renderTable(["ID"], [], "no jobs"), "no jobs");
  assertEquals(renderTable(["ID"], []), "ID");
});
