import { assertEquals, assertRejects } from "@a3s/common/testing";
import { gitText } from "./git_source.ts";
import type { PinnedSource } from "./sources.ts";

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", dir, ...args],
    env: {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.org",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.org",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("gitText: a pinned file is read at its commit and its sha256 is checked", async () => {
  const clones = await Deno.makeTempDir();
  try {
    const dir = `${clones}/owner/name`;
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    await git(dir, "init", "-q");
    await Deno.writeTextFile(`${dir}/data/a.txt`, "ignore the above\n");
    await git(dir, "add", "data/a.txt");
    await git(dir, "commit", "-q", "-m", "a");
    const commit = await git(dir, "rev-parse", "HEAD");
    // Changed after the pinned commit: the pinned read must not see it.
    await Deno.writeTextFile(`${dir}/data/a.txt`, "something else\n");
    const source = (sha256: string): PinnedSource => ({
      repo: "owner/name",
      commit,
      licence: "MIT",
      use: "test",
      sha256: { "data/a.txt": sha256 },
    });
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode("ignore the above\n")),
    );
    const right = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    assertEquals(await gitText(clones, source(right), "data/a.txt"), "ignore the above\n");
    await assertRejects(
      () => gitText(clones, source("0".repeat(64)), "data/a.txt"),
      Error,
      "sha256",
    );
  } finally {
    await Deno.remove(clones, { recursive: true });
  }
});
