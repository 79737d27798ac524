/**
 * Builds the guest agent from its C sources with the host's C compiler, statically linked so it
 * runs in any rootfs and as a VM's init (the same binary is the namespace driver's launcher).
 * Binaries are cached by the sources' hash, so an edit to any source rebuilds and concurrent
 * builders never see a half-written file.
 */
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { exists } from "../_exists.ts";

/** The sources, header first: all of them feed the cache key, the .c files the compiler. */
const SOURCES = ["agent.h", "agent.c", "user.c", "launch.c", "vm_setup.c", "pod.c"];

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const building = new Map<string, Promise<string>>();

/**
 * Returns the path of the built agent under `cacheDir`, compiling it on first use.
 *
 * @example
 * ```ts
 * import { buildAgent } from "@a3s/box";
 * const agent = await buildAgent("/tmp/a3s-agent-cache");
 * ```
 */
export function buildAgent(cacheDir: string): Promise<string> {
  const pending = building.get(cacheDir) ?? compile(cacheDir);
  building.set(cacheDir, pending);
  pending.catch(() => building.delete(cacheDir));
  return pending;
}

/**
 * The agent binary `cacheDir` holds for the current sources, if it was built there already;
 * undefined otherwise (nothing is compiled).
 */
export async function builtAgent(cacheDir: string): Promise<string | undefined> {
  const { target } = await agentTarget(cacheDir);
  return await exists(target) ? target : undefined;
}

/** The sources and the path their binary has in `cacheDir` (named by their hash). */
async function agentTarget(
  cacheDir: string,
): Promise<{ sources: { name: string; text: Uint8Array }[]; target: string }> {
  const sources = await Promise.all(
    SOURCES.map(async (name) => ({
      name,
      text: await Deno.readFile(new URL(`./${name}`, import.meta.url)),
    })),
  );
  const all = new Uint8Array(sources.reduce((n, s) => n + s.text.length + s.name.length + 1, 0));
  let offset = 0;
  for (const source of sources) {
    all.set(new TextEncoder().encode(`${source.name}\0`), offset);
    offset += source.name.length + 1;
    all.set(source.text, offset);
    offset += source.text.length;
  }
  return { sources, target: join(cacheDir, `a3s-agent-${(await sha256Hex(all)).slice(0, 16)}`) };
}

async function compile(cacheDir: string): Promise<string> {
  const { sources, target } = await agentTarget(cacheDir);
  if (await exists(target)) return target;
  await Deno.mkdir(cacheDir, { recursive: true });
  const sourceDir = join(cacheDir, `src-${crypto.randomUUID()}`);
  const partial = `${target}.${crypto.randomUUID()}.tmp`;
  await Deno.mkdir(sourceDir);
  try {
    for (const source of sources) await Deno.writeFile(join(sourceDir, source.name), source.text);
    const compiler = Deno.env.get("CC") ?? "cc";
    const cFiles = SOURCES.filter((name) => name.endsWith(".c")).map((n) => join(sourceDir, n));
    const result = await new Deno.Command(compiler, {
      args: ["-static", "-O2", "-s", "-Wall", "-o", partial, ...cFiles],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((error) => {
      throw new A3sError("agent_build_failed", `cannot run C compiler '${compiler}': ${error}`);
    });
    if (!result.success) {
      const detail = new TextDecoder().decode(result.stderr).trim().split("\n").slice(-3).join(" ");
      throw new A3sError("agent_build_failed", `building the guest agent failed: ${detail}`);
    }
    await Deno.rename(partial, target);
    return target;
  } finally {
    await Deno.remove(sourceDir, { recursive: true }).catch(() => {});
    await Deno.remove(partial).catch(() => {});
  }
}
