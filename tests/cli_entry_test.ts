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
});
