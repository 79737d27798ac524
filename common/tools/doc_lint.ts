/**
 * Checks every workspace member's public API docs: `deno doc --lint` over all members' `mod.ts`
 * at once (so a type one member exports counts as public in the others), then
 * `deno check --doc` on them (the JSDoc examples type-check). Exits 1 when either fails.
 *
 * One kind of diagnostic is dropped: `private-type-ref` to a type imported from an npm package
 * (`Kysely`, `OpenAPIHono`, `ZodType`...). With `nodeModulesDir` those packages resolve to
 * local files, so `deno doc` takes their exported types for private ones of ours; upstream
 * stops reporting types of other packages (denoland/deno#27364) in a later release.
 *
 * Run: `deno run -A common/tools/doc_lint.ts [member...]` (every member when none is named;
 * a named member's diagnostics are the ones reported, the others still count as public).
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** One `deno doc --lint` diagnostic. */
export interface DocDiagnostic {
  /** The lint code, such as `missing-jsdoc`. */
  code: string;
  /** The first line of the message. */
  message: string;
  /** The file the diagnostic points at. */
  file: string;
  /** The whole diagnostic as printed. */
  text: string;
}

// deno colours its output when it thinks a terminal reads it; the parser reads plain text
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Splits `deno doc --lint` output into diagnostics. */
export function parseDiagnostics(output: string): DocDiagnostic[] {
  const plain = output.replace(ANSI, "");
  const blocks = plain.split(/\n(?=error\[)/).filter((block) => block.startsWith("error["));
  return blocks.map((text) => {
    const header = text.match(/^error\[([\w-]+)\]: (.*)$/m);
    const file = text.match(/^\s*--> (.+?):\d+:\d+$/m)?.[1] ?? "";
    return { code: header?.[1] ?? "", message: header?.[2] ?? "", file, text: text.trimEnd() };
  });
}

/**
 * The names `source` imports from npm packages (bare specifiers other than the workspace's
 * `@a3s/` members), including namespace-like bindings such as `z` of `import { z } from "zod"`.
 */
export function npmBindings(source: string): Set<string> {
  const names = new Set<string>();
  const imports = source.matchAll(
    /import\s+(type\s+)?([\s\S]*?)\s+from\s+["']([^"']+)["']/g,
  );
  for (const [, , clause, specifier] of imports) {
    if (specifier.startsWith(".") || specifier.startsWith("@a3s/")) continue;
    if (specifier.startsWith("node:")) continue;
    for (const part of clause.replace(/[{}]/g, ",").split(",")) {
      const name = part.replace(/^\s*type\s+/, "").split(/\s+as\s+/).pop()?.replace(
        /^\*\s*/,
        "",
      ).trim();
      if (name) names.add(name);
    }
  }
  return names;
}

/** True when the diagnostic is a reference to a type that `source` takes from an npm package. */
export function isNpmTypeRef(diagnostic: DocDiagnostic, source: string): boolean {
  if (diagnostic.code !== "private-type-ref") return false;
  const type = diagnostic.message.match(/references private type '([^']+)'/)?.[1];
  if (!type) return false;
  const bindings = npmBindings(source);
  if (bindings.has(type)) return true;
  // a type reached through a namespace binding: `z.ZodType`, `pg.Pool`
  return [...bindings].some((binding) => source.includes(`${binding}.${type}`));
}

async function run(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { success, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { ok: success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** The `mod.ts` of every workspace member that has one, relative to the root. */
async function memberEntryPoints(root: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  const entries: string[] = [];
  for (const member of config.workspace as string[]) {
    const path = join(member, "mod.ts");
    try {
      await Deno.stat(join(root, path));
      entries.push(path);
    } catch {
      // a member without a public module yet
    }
  }
  return entries;
}

async function main(members: string[]): Promise<number> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const entries = await memberEntryPoints(root);
  const reported = members.length
    ? entries.filter((entry) => members.some((m) => entry.startsWith(`${m.replace(/\/$/, "")}/`)))
    : entries;
  const lint = await run(["doc", "--lint", ...entries], root);
  const sources = new Map<string, string>();
  const remaining: DocDiagnostic[] = [];
  for (const diagnostic of parseDiagnostics(lint.output)) {
    if (!sources.has(diagnostic.file)) {
      sources.set(diagnostic.file, await Deno.readTextFile(diagnostic.file).catch(() => ""));
    }
    if (isNpmTypeRef(diagnostic, sources.get(diagnostic.file)!)) continue;
    const member = relative(root, diagnostic.file).split("/")[0];
    if (reported.some((entry) => entry.startsWith(`${member}/`))) remaining.push(diagnostic);
  }
  for (const diagnostic of remaining) console.error(`${diagnostic.text}\n`);
  const check = await run(["check", "--doc", ...reported], root);
  if (!check.ok) console.error(check.output);
  const where = reported.map((entry) => relative(".", join(root, entry))).join(" ");
  if (remaining.length || !check.ok) {
    console.error(
      `doc lint: ${remaining.length} diagnostics; doc examples ${check.ok ? "ok" : "fail"}`,
    );
    return 1;
  }
  console.log(`doc lint and doc examples clean: ${where}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
