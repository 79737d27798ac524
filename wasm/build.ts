/**
 * Compiles every AssemblyScript entry `wasm/assembly/<name>.ts` (files whose names start with
 * `_` and files in subfolders are libraries, not entries) to `wasm/build/<name>.wasm` at -O3.
 * With `--check`, builds into a temp dir and fails if any committed file differs.
 */
import asc from "assemblyscript/asc";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const sources = join(root, "assembly");
const committed = join(root, "build");

async function entries(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(sources)) {
    if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.startsWith("_")) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

const DEFAULT_FLAGS = ["-O3", "--noAssert", "--runtime", "stub", "--exportRuntime"];

/** An entry may replace the default flags with a first line `// asc-flags: ...`. */
async function flagsFor(path: string): Promise<string[]> {
  const firstLine = (await Deno.readTextFile(path)).split("\n", 1)[0];
  const match = firstLine.match(/^\/\/\s*asc-flags:(.*)$/);
  return match ? match[1].trim().split(/\s+/).filter(Boolean) : DEFAULT_FLAGS;
}

async function compile(entry: string, outDir: string): Promise<void> {
  const name = basename(entry, ".ts");
  const path = join(sources, entry);
  const { error, stderr } = await asc.main([
    path,
    ...(await flagsFor(path)),
    "--outFile",
    join(outDir, `${name}.wasm`),
  ]);
  if (error) throw new Error(`asc ${entry}: ${error.message}\n${stderr.toString()}`);
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b).catch(() => undefined)]);
  return y !== undefined && x.length === y.length && x.every((byte, i) => byte === y[i]);
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const outDir = check ? await Deno.makeTempDir() : committed;
  await Deno.mkdir(outDir, { recursive: true });
  const stale: string[] = [];
  for (const entry of await entries()) {
    await compile(entry, outDir);
    const wasm = `${basename(entry, ".ts")}.wasm`;
    if (check && !(await sameBytes(join(outDir, wasm), join(committed, wasm)))) stale.push(wasm);
    console.log(`${check ? "checked" : "built"} ${wasm}`);
  }
  if (stale.length) {
    console.error(
      `error: committed wasm differs from sources: ${stale.join(", ")}; run 'deno task build:wasm'`,
    );
    Deno.exit(1);
  }
}
