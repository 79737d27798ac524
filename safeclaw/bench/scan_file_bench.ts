/**
 * `safeclaw scan --file` as a whole process, the figure the issue sets (at least 150 MB/s on a
 * 28 MB mixed file, the process's start and exit included): each round spawns the command on a
 * file of this repository's source code and documentation with a Faker record every twenty lines.
 * Beside it, in the same run: the same command through `mod.ts`, which also loads the library
 * API, and the scan inside one process, without the process around it.
 */
import { createScanner } from "@a3s/wasm/pii";
import { fakerCorpus } from "../quality/faker_corpus.ts";
import { scanFileJson } from "../scan_file.ts";

const ROOT = new URL("../../", import.meta.url);
const TARGET_BYTES = 28 * 1000 * 1000;

/** The repository's own `.ts` and `.md` files, sorted, for the code and prose of the mix. */
async function repositoryTexts(): Promise<string[]> {
  const paths: string[] = [];
  const walk = async (dir: URL, depth: number) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory && depth > 0) await walk(url, depth - 1);
      else if (entry.isFile && /\.(ts|md)$/.test(entry.name)) paths.push(url.pathname);
    }
  };
  await walk(ROOT, 4);
  paths.sort();
  return await Promise.all(paths.map((p) => Deno.readTextFile(p)));
}

async function mixedFile(): Promise<string> {
  const records = fakerCorpus(2000, 28).map((r) => r.text.replaceAll("\n", " "));
  const lines = (await repositoryTexts()).join("\n").split("\n");
  const out: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < TARGET_BYTES; i++) {
    const line = i % 20 === 19 ? records[i % records.length] : lines[i % lines.length];
    out.push(line);
    bytes += line.length + 1;
  }
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, out.join("\n") + "\n");
  return path;
}

const FILE = await mixedFile();
const SIZE = (await Deno.stat(FILE)).size;
const timings: Record<string, number[]> = {};

async function wholeProcess(entry: string, counted = true): Promise<void> {
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, "safeclaw", "scan", "--file", FILE],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${entry} safeclaw scan --file exited ${code}`);
  if (counted) (timings[entry] ??= []).push(performance.now() - started);
}

// The processes are timed here, before the benches run: while `deno bench` measures, it holds
// the workspace's node_modules lock, and a `deno run` started then waits for it (seconds).
// One run of each first, not counted, warms the caches.
await wholeProcess("cli.ts", false);
await wholeProcess("mod.ts", false);
for (let round = 0; round < 12; round++) {
  await wholeProcess("cli.ts");
  if (round % 2 === 0) await wholeProcess("mod.ts");
}

Deno.bench({
  name: "scanFileJson in this process (no start, no output)",
  n: 12,
  warmup: 2,
  fn: () => {
    const started = performance.now();
    const scanner = createScanner();
    for (const _ of scanFileJson(FILE, scanner));
    scanner.free();
    (timings.inProcess ??= []).push(performance.now() - started);
  },
});

globalThis.addEventListener("unload", () => {
  const megabytes = SIZE / 1e6;
  const rate = (label: string, samples: number[] | undefined) => {
    if (!samples?.length) return;
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${label}: median ${(megabytes / (median / 1000)).toFixed(0)} MB/s ` +
        `(${median.toFixed(0)} ms for ${megabytes.toFixed(1)} MB, ${sorted.length} runs)`,
    );
  };
  console.log("scan --file on a mixed file (target: 150 MB/s for the whole process)");
  rate("  cli.ts, whole process", timings["cli.ts"]);
  rate("  mod.ts, whole process", timings["mod.ts"]);
  rate("  in process", timings.inProcess);
  Deno.removeSync(FILE);
});
