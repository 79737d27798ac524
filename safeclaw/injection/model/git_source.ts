/**
 * Reading the training sources at their pinned commits from local git directories: `clones`
 * holds one per repository, as `<owner>+<name>/repo` (a bare mirror) or `<owner>/<name>` (a clone).
 */
import type { PinnedSource } from "./sources.ts";

/** A file of `source` at its pinned commit. */
export async function gitShow(
  clones: string,
  source: PinnedSource,
  path: string,
): Promise<Uint8Array> {
  const [owner, name] = source.repo.split("/");
  const candidates = [`${clones}/${owner}+${name}/repo`, `${clones}/${owner}/${name}/.git`];
  for (const gitDir of candidates) {
    try {
      await Deno.stat(gitDir);
    } catch {
      continue;
    }
    const out = await new Deno.Command("git", {
      args: ["--git-dir", gitDir, "show", `${source.commit}:${path}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `${source.repo}@${source.commit}:${path}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    const pinned = source.sha256?.[path];
    if (pinned) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", out.stdout));
      const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
      if (hex !== pinned) {
        throw new Error(`${source.repo}@${source.commit}:${path}: sha256 ${hex}, pinned ${pinned}`);
      }
    }
    return out.stdout;
  }
  throw new Error(`no clone of ${source.repo} under ${clones}`);
}

/** The files under `folder` of `source` at its pinned commit. */
export async function gitList(
  clones: string,
  source: PinnedSource,
  folder: string,
): Promise<string[]> {
  const [owner, name] = source.repo.split("/");
  for (const gitDir of [`${clones}/${owner}+${name}/repo`, `${clones}/${owner}/${name}/.git`]) {
    const out = await new Deno.Command("git", {
      args: ["--git-dir", gitDir, "ls-tree", "-r", "--name-only", source.commit, folder],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
  }
  throw new Error(`no clone of ${source.repo} under ${clones}`);
}

/** A file of `source` at its pinned commit, as text. */
export async function gitText(clones: string, source: PinnedSource, path: string): Promise<string> {
  return new TextDecoder().decode(await gitShow(clones, source, path));
}
