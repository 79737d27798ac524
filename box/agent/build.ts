/**
 * Builds the guest agent from `agent.c` with the host's C compiler, statically linked so it runs
 * in any rootfs and as a VM's init. Binaries are cached by the source's hash, so an edit to the
 * source rebuilds and concurrent builders never see a half-written file.
 */
import { join } from "node:path";
import { A3sError } from "@a3s/common";

const SOURCE = new URL("./agent.c", import.meta.url);

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
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

async function compile(cacheDir: string): Promise<string> {
  const source = await Deno.readFile(SOURCE);
  const target = join(cacheDir, `a3s-agent-${(await sha256Hex(source)).slice(0, 16)}`);
  if (await exists(target)) return target;
  await Deno.mkdir(cacheDir, { recursive: true });
  const sourcePath = join(cacheDir, `agent-${crypto.randomUUID()}.c`);
  const partial = `${target}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(sourcePath, source);
  try {
    const compiler = Deno.env.get("CC") ?? "cc";
    const result = await new Deno.Command(compiler, {
      args: ["-static", "-O2", "-s", "-o", partial, sourcePath],
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
    await Deno.remove(sourcePath).catch(() => {});
    await Deno.remove(partial).catch(() => {});
  }
}
