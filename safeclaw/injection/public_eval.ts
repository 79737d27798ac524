/**
 * Where the public injection evaluation set lives. It is built from other projects' repositories
 * (see `model/sources.ts`), so it is not kept in this repository: it sits in a data folder named
 * `shared/safeclaw/`, inside the checkout or beside it, or wherever `A3S_INJECTION_PUBLIC_EVAL`
 * points; failing those, it is rebuilt by `model/build_corpus.ts` from clones of the pinned
 * sources, when they are at hand. The report and the tests use this one lookup, so they agree on
 * which file they scored.
 */
import { resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type EvalRecord, parseEvalSet } from "./evaluate.ts";
import { type PinnedSource, SOURCES } from "./model/sources.ts";

/** The set's file name, in every folder it is looked for in. */
export const PUBLIC_EVAL_FILE = "injection_public_eval.jsonl";

/**
 * The sha256 of the set the published figures (README, MODEL_CARD) were measured on: 1,791
 * records. A rebuild from the pinned commits gives the same bytes when the installed Debian
 * documentation is the same.
 */
export const PUBLISHED_PUBLIC_EVAL_SHA256 =
  "0a5f031326153acba4142c374539fd6924ff72a3fb26767c08abfe8ab8431f8a";

/** Names the file of the set directly. */
export const PUBLIC_EVAL_ENV = "A3S_INJECTION_PUBLIC_EVAL";
/** Names a folder of clones of the pinned sources, to rebuild the set from. */
export const PUBLIC_EVAL_CLONES_ENV = "A3S_INJECTION_CLONES";

/** The set, found or rebuilt. */
export interface PublicEvalSet {
  found: true;
  records: EvalRecord[];
  /** The file read, or the clones folder it was rebuilt from. */
  path: string;
  /** How it was found, in a few words, for the report. */
  how: string;
  sha256: string;
  /** Whether it is byte for byte the set the published figures were measured on. */
  published: boolean;
}

/** Why the set is not available: one line, naming every place that was tried. */
export interface MissingPublicEvalSet {
  found: false;
  reason: string;
}

/** Where to look; tests point these elsewhere. */
export interface PublicEvalLookupOptions {
  /** The repository checkout (default: the one this file is in). */
  root?: string;
  /** Reads an environment variable (default: `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

const DEFAULT_ROOT = fromFileUrl(new URL("../../", import.meta.url));

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function load(path: string, how: string): Promise<PublicEvalSet> {
  const bytes = await Deno.readFile(path);
  const hash = await sha256(bytes);
  return {
    found: true,
    records: parseEvalSet(new TextDecoder().decode(bytes)),
    path,
    how,
    sha256: hash,
    published: hash === PUBLISHED_PUBLIC_EVAL_SHA256,
  };
}

/**
 * The pinned repositories the evaluation set is built from with no clone in `dir`, in the layouts
 * build_corpus.ts reads (the training-only sources are not needed for it).
 */
export async function missingClones(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const source of Object.values(SOURCES) as PinnedSource[]) {
    if (source.trainingOnly) continue;
    const { repo } = source;
    const [owner, name] = repo.split("/");
    const layouts = [`${dir}/${owner}+${name}/repo`, `${dir}/${owner}/${name}/.git`];
    let present = false;
    for (const layout of layouts) present ||= await exists(layout);
    if (!present) missing.push(repo);
  }
  return missing;
}

/** Runs build_corpus.ts on `clones` and returns the evaluation set it wrote. */
async function rebuild(clones: string): Promise<PublicEvalSet> {
  const out = await Deno.makeTempDir({ prefix: "a3s-injection-corpus-" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        fromFileUrl(new URL("./model/build_corpus.ts", import.meta.url)),
        "--clones",
        clones,
        "--out",
        out,
        "--eval-only",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(
        `build_corpus.ts failed on ${clones}: ${new TextDecoder().decode(result.stderr).trim()}`,
      );
    }
    const set = await load(`${out}/${PUBLIC_EVAL_FILE}`, "rebuilt by build_corpus.ts from");
    return { ...set, path: clones };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/**
 * Finds the public evaluation set: the file `A3S_INJECTION_PUBLIC_EVAL` names, else
 * `shared/safeclaw/injection_public_eval.jsonl` in the checkout, else the same beside the
 * checkout, else a rebuild from the clones in `A3S_INJECTION_CLONES` or `shared/safeclaw/clones`
 * (in or beside the checkout). A variable that names a missing file or an incomplete clones
 * folder is an answer, not something to look past: the caller asked for that place.
 */
export async function findPublicEvalSet(
  options: PublicEvalLookupOptions = {},
): Promise<PublicEvalSet | MissingPublicEvalSet> {
  const root = options.root ?? DEFAULT_ROOT;
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const named = env(PUBLIC_EVAL_ENV);
  if (named) {
    if (await exists(named)) return await load(named, `${PUBLIC_EVAL_ENV} names`);
    return { found: false, reason: `${PUBLIC_EVAL_ENV} names ${named}, which does not exist` };
  }
  const folders = [resolve(root, "shared/safeclaw"), resolve(root, "../shared/safeclaw")];
  for (const folder of folders) {
    const path = `${folder}/${PUBLIC_EVAL_FILE}`;
    if (await exists(path)) return await load(path, "read from");
  }
  const namedClones = env(PUBLIC_EVAL_CLONES_ENV);
  if (namedClones) {
    const missing = await missingClones(namedClones);
    if (missing.length) {
      return {
        found: false,
        reason: `${PUBLIC_EVAL_CLONES_ENV} names ${namedClones}, which has no clone of ${
          missing.join(", ")
        }`,
      };
    }
    return await rebuild(namedClones);
  }
  for (const folder of folders) {
    const clones = `${folder}/clones`;
    if (await exists(clones) && (await missingClones(clones)).length === 0) {
      return await rebuild(clones);
    }
  }
  return {
    found: false,
    reason: `no ${PUBLIC_EVAL_FILE} in ${
      folders.join(" or ")
    }, ${PUBLIC_EVAL_ENV} unset, and no clones of the pinned sources to rebuild it from (${PUBLIC_EVAL_CLONES_ENV} or shared/safeclaw/clones)`,
  };
}

/** The line the report prints above the set's figures: which file was scored. */
export function describePublicEvalSet(set: PublicEvalSet): string {
  return `${set.records.length} records, ${set.how} ${set.path}, sha256 ${
    set.sha256.slice(0, 12)
  }… (${
    set.published
      ? "the set the published figures were measured on"
      : "NOT the set the published figures were measured on"
  })`;
}
