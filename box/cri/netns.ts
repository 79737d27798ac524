/**
 * Named network namespaces (`ip netns`), the network a pod's or a box's processes share: made
 * with only loopback up, so it reaches nothing outside itself unless something is wired in.
 */
import { A3sError } from "@a3s/common";

async function ip(args: string[]): Promise<{ ok: boolean; error: string }> {
  try {
    const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, error: new TextDecoder().decode(out.stderr).trim() };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** The path of a named namespace, as boxes join it. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Creates a namespace with loopback up; returns its path. */
export async function createNetns(name: string): Promise<string> {
  const made = await ip(["netns", "add", name]);
  if (!made.ok && !made.error.includes("File exists")) {
    throw new A3sError("netns_failed", `cannot create network namespace ${name}: ${made.error}`);
  }
  const up = await ip(["-n", name, "link", "set", "lo", "up"]);
  if (!up.ok) {
    throw new A3sError("netns_failed", `cannot bring up loopback in ${name}: ${up.error}`);
  }
  // Boxes are root only in their own user namespace, which does not own this network
  // namespace; without this a web server in a box could not listen on port 80 (as rootless
  // Podman does, and harmless: the namespace is the box's alone).
  const ports = await ip([
    "netns",
    "exec",
    name,
    "sysctl",
    "-qw",
    "net.ipv4.ip_unprivileged_port_start=0",
  ]);
  if (!ports.ok) {
    throw new A3sError("netns_failed", `cannot open low ports in ${name}: ${ports.error}`);
  }
  return netnsPath(name);
}

/** Deletes a namespace; one that is already gone is fine. */
export async function deleteNetns(name: string): Promise<void> {
  const removed = await ip(["netns", "delete", name]);
  if (!removed.ok && !/No such file|not found/i.test(removed.error)) {
    throw new A3sError("netns_failed", `cannot delete network namespace ${name}: ${removed.error}`);
  }
}
