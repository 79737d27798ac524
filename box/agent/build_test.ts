/**
 * The agent's build: musl where musl-gcc is installed (a smaller binary that starts sooner), the
 * host's `cc` when `CC` names it, each cached under its own name.
 */
import { assert } from "@a3s/common/testing";
import { buildAgent } from "./build.ts";

function hasMusl(): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/musl-gcc`).isFile;
    } catch {
      return false;
    }
  });
}

/** Whether a static binary carries glibc (its start-up reads GLIBC_TUNABLES; musl has none). */
function linksGlibc(binary: string): boolean {
  const bytes = Deno.readFileSync(binary);
  return new TextDecoder("latin1").decode(bytes).includes("GLIBC_TUNABLES");
}

Deno.test({
  name:
    "the agent builds with musl where installed, with CC's compiler when set, each cached apart",
  ignore: !hasMusl(),
  async fn() {
    const cache = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3s-agent-build" });
    try {
      const musl = await buildAgent(cache);
      assert(!linksGlibc(musl), "the default build should link musl");
      const glibcSize = await withEnv("CC", "cc", async () => {
        const glibc = await buildAgent(`${cache}/cc`);
        assert(linksGlibc(glibc), "CC=cc should build with the host's glibc");
        assert(
          glibc.split("/").pop() !== musl.split("/").pop(),
          "each compiler has its own cache name",
        );
        return Deno.statSync(glibc).size;
      });
      // The point of musl: a much smaller static binary, less to map on each exec.
      assert(Deno.statSync(musl).size * 3 < glibcSize, "the musl build should be far smaller");
      const run = await new Deno.Command(musl, { args: ["--bogus"], stderr: "piped" }).output();
      assert(new TextDecoder().decode(run.stderr).includes("unknown argument --bogus"));
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});

async function withEnv<T>(name: string, value: string, run: () => Promise<T>): Promise<T> {
  const before = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    return await run();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}
