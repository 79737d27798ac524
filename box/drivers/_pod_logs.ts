/**
 * A pod VM's members' logs, written on the host by the keeper in front of the pod's QEMU
 * (agent/pod_log_keeper.c) from the records the guest agent sends on the pod log port. The guest
 * names a member by its id only: which files that id may write, and how large they may grow, is
 * what the host grants here, in the sandbox's state dir (which the guest cannot reach), before
 * the member starts. So a chatty member is bounded as any box is, and its logs are plain files
 * in its own state dir that `box logs` reads as every other box's.
 */
import { join } from "node:path";
import type { BoxOutput } from "../types.ts";
import { UNBOUNDED } from "./_vm_log_keeper.ts";
import { processIdentity } from "./_proc.ts";

/** The dir of a pod sandbox's member grants; the keeper's pid is in its `keeper` file. */
export function podLogGrants(sandboxStateDir: string): string {
  return join(sandboxStateDir, "member-logs");
}

/** A member id as the keeper takes it: hex, so that it names a file in the grants dir. */
const MEMBER_ID = /^[0-9a-f]{1,64}$/;

/** The pid in a keeper's pid file while that keeper runs. */
async function livePid(path: string): Promise<number | undefined> {
  const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return await processIdentity(pid) ? pid : undefined;
}

/**
 * Lets member `id` write `output`'s logs through the pod VM's keeper, at `output`'s bound. The
 * member's `STDOUT.keeper` names the keeper from now until the keeper has written the member's
 * end, so a reader of a member that just ended waits for its last output (see `log_files.ts`).
 */
export async function grantMemberLogs(
  sandboxStateDir: string,
  id: string,
  output: BoxOutput,
): Promise<void> {
  if (!MEMBER_ID.test(id)) throw new Error(`pod member id '${id}' is not hex`);
  const grants = podLogGrants(sandboxStateDir);
  const bound = output.logBound ?? UNBOUNDED;
  const grant = `${output.stdoutPath}\n${output.stderrPath}\n${bound.maxSize} ${bound.maxFiles}\n`;
  const temp = join(grants, `.${id}.${crypto.randomUUID()}`);
  await Deno.writeTextFile(temp, grant);
  await Deno.rename(temp, join(grants, id));
  const keeper = await livePid(join(grants, "keeper"));
  if (keeper) await Deno.writeTextFile(`${output.stdoutPath}.keeper`, `${keeper}\n`);
}

/** Takes the grant back: the keeper writes nothing more for `id`, and no reader waits for it. */
export async function revokeMemberLogs(
  sandboxStateDir: string,
  id: string,
  output: Pick<BoxOutput, "stdoutPath">,
): Promise<void> {
  if (MEMBER_ID.test(id)) {
    await Deno.remove(join(podLogGrants(sandboxStateDir), id)).catch(() => {});
  }
  await Deno.remove(`${output.stdoutPath}.keeper`).catch(() => {});
}
