import { assertEquals, assertThrows } from "./testing.ts";
import {
  fileReadError,
  FORMAT_OPTIONS,
  intFlag,
  outputFormat,
  parseCommand,
  printableCell,
  renderTable,
  runCommand,
} from "./cli.ts";
import { A3sError, NotFoundError, UsageError } from "./errors.ts";

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
  // Wide characters take two columns: the next column lines up under its header.
  assertEquals(
    renderTable(["SESSION", "KIND"], [["u1:张三李四", "block"], ["u2:bob", "info"]]),
    "SESSION      KIND\nu1:张三李四  block\nu2:bob       info",
  );
  assertEquals(renderTable(["ID"], []), "ID");
});

Deno.test("table cells show control characters escaped: no cleared screen, no forged row", () => {
  assertEquals(
    printableCell("a\x1b[2J\x07b\nc\td\u202ee\u0085"),
    "a\\x1b[2J\\x07b\\nc\\td\\u202ee\\x85",
  );
  assertEquals(printableCell("plain café ✓"), "plain café ✓");
  const table = renderTable(["NAME", "X"], [["x\nFAKE  row", "1"]]);
  assertEquals(table.split("\n"), ["NAME          X", "x\\nFAKE  row  1"]);
  // 200,000 rows: the widths were a spread of every row's cell as arguments.
  const rows = Array.from({ length: 200_000 }, (_, i) => [String(i)]);
  assertEquals(renderTable(["N"], rows).split("\n").length, 200_001);
});

Deno.test("a negative value names its fix; an integer flag stays a safe integer", () => {
  const error = assertThrows(
    () => parseCommand(["--limit", "-1"], { limit: { type: "string" } }),
    UsageError,
  );
  assertEquals(error.message.endsWith("Write a value that starts with '-' as --limit=-1"), true);
  assertThrows(() => intFlag({ limit: "99999999999999999999" }, "limit"), UsageError, "at most");
  assertEquals(intFlag({ limit: "12" }, "limit"), 12);
});

Deno.test("runCommand: a closed reader ends quietly, file errors are one line", async () => {
  assertEquals(await runCommand(() => Promise.reject(new Deno.errors.BrokenPipe("closed"))), 0);
  const dir = await Deno.makeTempDir();
  try {
    const read = (path: string) => () =>
      Deno.readTextFile(path).then(() => 0, (error) => {
        throw fileReadError(error, path);
      });
    assertEquals(await runCommand(read(dir)), 2);
    assertEquals(await runCommand(read(`${dir}/absent`)), 2);
    assertEquals(
      (fileReadError(new Deno.errors.IsADirectory("x"), dir) as Error).message,
      `'${dir}' is a directory, not a file`,
    );
    const denied = fileReadError(new Deno.errors.PermissionDenied("x"), "/etc/shadow") as Error;
    assertEquals(denied.message, "cannot read '/etc/shadow': permission denied");
    assertEquals(await runCommand(() => Promise.reject(denied)), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs a failing command body and returns its exit code and what it printed on stderr. */
async function failWith(error: unknown): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const original = console.error;
  console.error = (...values: unknown[]) => err.push(values.join(" "));
  try {
    return { code: await runCommand(() => Promise.reject(error)), err };
  } finally {
    console.error = original;
  }
}

Deno.test("runCommand: a missing object is input to fix (2), as bad usage is", async () => {
  assertEquals(await failWith(new NotFoundError("no such box: nope", "id")), {
    code: 2,
    err: ["error: no such box: nope (id)"],
  });
  const conflict = new A3sError("conflict", "name in use", { status: 409, field: "name" });
  assertEquals((await failWith(conflict)).code, 2);
  assertEquals((await failWith(new UsageError("unknown command"))).code, 2);
});

Deno.test("runCommand: a port in use is one line with no stack, exit 1", async () => {
  const busy = await failWith(new Deno.errors.AddrInUse("Address already in use (os error 98)"));
  assertEquals(busy, { code: 1, err: ["error: Address already in use (os error 98)"] });
  const missing = await failWith(new Deno.errors.AddrNotAvailable("Cannot assign address"));
  assertEquals(missing, { code: 1, err: ["error: Cannot assign address"] });
});

Deno.test("an option given twice is refused unless it may repeat", () => {
  const options = {
    file: { type: "string" as const, short: "f" },
    header: { type: "string" as const, multiple: true },
  };
  assertThrows(
    () => parseCommand(["--file", "a", "-f", "b"], options),
    UsageError,
    "--file is given twice",
  );
  assertEquals(parseCommand(["--header", "a=1", "--header", "b=2"], options).values.header, [
    "a=1",
    "b=2",
  ]);
});
