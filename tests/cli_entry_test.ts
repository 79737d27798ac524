/**
 * `cli.ts`, the command line without the library API: the same commands and exit codes as
 * `mod.ts`, the same output, and a `safeclaw scan --file` that loads no more than it needs.
 */
import { assert, assertEquals } from "@a3s/common/testing";

const ROOT = new URL("../", import.meta.url);

async function run(entry: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

Deno.test("cli.ts: --help lists the commands, an unknown one exits 2 with one line", async () => {
  const help = await run("cli.ts", ["--help"]);
  assertEquals(help.code, 0);
  for (const command of ["serve", "safeclaw", "box", "lane", "power"]) {
    assert(help.out.includes(`  ${command}`), command);
  }
  const unknown = await run("cli.ts", ["nope"]);
  assertEquals(unknown.code, 2);
  assertEquals(unknown.err.trim().split("\n").length, 1);
  assert(unknown.err.includes("unknown command 'nope'"));
});

Deno.test("cli.ts and mod.ts print the same findings for safeclaw scan --file", async () => {
  const args = ["safeclaw", "scan", "--file", "safeclaw/testdata/note.txt"];
  const [viaCli, viaMod] = await Promise.all([run("cli.ts", args), run("mod.ts", args)]);
  assertEquals(viaCli.code, 0);
  assertEquals(viaCli.out, viaMod.out);
  assert(JSON.parse(viaCli.out).length > 0);
  const missing = await run("cli.ts", [
    "safeclaw",
    "scan",
    "--file",
    "safeclaw/testdata/absent.txt",
  ]);
  assertEquals(missing.code, 2);
  // The answer is read before anything is printed: a missing file leaves stdout empty.
  assertEquals(missing.out, "");
  // Forms the plain path leaves to the parser end in the same findings.
  for (
    const form of [["--file=safeclaw/testdata/note.txt"], ["-f", "safeclaw/testdata/note.txt"]]
  ) {
    assertEquals((await run("cli.ts", ["safeclaw", "scan", ...form])).out, viaCli.out);
  }
});

Deno.test("cli.ts: safeclaw scan streams stdin, with a heap far smaller than the input", async () => {
  // 56 MB through a 40 MB JavaScript heap: read whole into a string, as before, it ran out of
  // memory and the process died (exit 133); streamed, it prints what --file prints.
  const record = "The weekly report covers sales in the northern region and its outlook.\n"
    .repeat(50) + "order 991 paid with 4111 1111 1111 1111, receipt to ada@example.org\n";
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(path, record.repeat(Math.ceil(56e6 / record.length)));
    const viaFile = await run("cli.ts", ["safeclaw", "scan", "--file", path]);
    using input = await Deno.open(path);
    const viaStdin = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--v8-flags=--max-old-space-size=40", "-A", "cli.ts", "safeclaw", "scan"],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [output] = await Promise.all([viaStdin.output(), input.readable.pipeTo(viaStdin.stdin)]);
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr).slice(0, 300));
    const printed = new TextDecoder().decode(output.stdout);
    assertEquals(printed.length, viaFile.out.length);
    assert(printed === viaFile.out, "stdin and --file print the same findings");
  } finally {
    await Deno.remove(path);
  }
});

/** The modules `entries` load when they start: their static graph, code edges only. */
async function loadedAtStart(...entries: string[]): Promise<string[]> {
  type Graph = {
    modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
  };
  const specifiers: string[] = [];
  for (const entry of entries) {
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    assertEquals(code, 0);
    const graph = JSON.parse(new TextDecoder().decode(stdout)) as Graph;
    const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
    // Only code edges: `typeof import(...)` in a type is a graph edge that never loads.
    const pending = [new URL(entry, ROOT).href];
    while (pending.length) {
      const specifier = pending.pop()!;
      if (specifiers.includes(specifier)) continue;
      specifiers.push(specifier);
      for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
        if (dep.code) pending.push(dep.code.specifier);
      }
    }
  }
  return specifiers;
}

Deno.test("cli.ts: safeclaw scan --file loads nothing of Node's compatibility layer", async () => {
  // Any node: module starts that layer, about 17 ms of a 200 ms scan of 28 MB. Modules loaded
  // on demand are out of this static graph; the ones the plain file scan takes are listed.
  const specifiers = await loadedAtStart("cli.ts", "safeclaw/cli.ts");
  assert(specifiers.some((s) => s.endsWith("/safeclaw/cli_scan_file.ts")), specifiers.join("\n"));
  assertEquals(specifiers.filter((s) => s.startsWith("node:") || s.startsWith("npm:")), []);
});

Deno.test("cli.ts: code, gateway, box, power, lane, event and search load their commands only when one runs, not for --help", async () => {
  // Loaded whole, `code --help` took 1.8 s and `gateway --help` 2.1 s (the agent framework; the
  // server with the Kubernetes and ACME clients), `box --help` 0.8 s, `power --help` 0.7 s (the
  // engine), lane's, event's and search's 0.6-0.8 s (the store, the bus, the engines); the
  // dispatchers alone take about 0.1 s.
  const specifiers = await loadedAtStart(
    "code/cli.ts",
    "gateway/cli.ts",
    "box/cli.ts",
    "power/cli.ts",
    "lane/cli.ts",
    "event/cli.ts",
    "search/cli.ts",
  );
  assertEquals(specifiers.filter((s) => s.startsWith("npm:")), []);
  assertEquals(
    specifiers.filter((s) =>
      /\/((code|box|power|lane|event|search)\/cli_commands|gateway\/(cli_run|gateway))\.ts$/.test(
        s,
      ) ||
      /\/common\/(mod|store)\.ts$/.test(s)
    ),
    [],
  );
  for (
    const [command, line] of [
      ["code", "a3s code <command>"],
      ["gateway", "a3s gateway <command>"],
      ["box", "a3s box <command>"],
      ["power", "a3s power <command>"],
      ["lane", "a3s lane <command>"],
      ["event", "a3s event <command>"],
      ["search", 'a3s search "QUERY"'],
    ]
  ) {
    const help = await run("cli.ts", [command, "--help"]);
    assertEquals(help.code, 0);
    assert(help.out.includes(line), help.out.slice(0, 200));
  }
});
