/**
 * What a test's data dir leaves on the host, and taking it all away. A box home owns things that
 * live outside it: the overlay mounted on each box's `merged` dir, each box's cgroups, the
 * network namespaces of its networks and of their members (with the host end of a `hostAccess`
 * network's veth pair), and processes (bubblewrap, port forwarders, QEMU). Removing the dir alone
 * left them behind on every test that failed or was killed before it removed its boxes: the
 * host gathered dozens of dead overlays and `a3s-net-*` namespaces, and every later bubblewrap
 * start re-read them in the mount table.
 *
 * A test home carries an owner file (the test process's pid and start time), so a later test
 * run can tell the home of a process that was killed from a home still in use, and sweep it.
 */
import { join } from "node:path";
import { CGROUP_ROOT } from "./drivers/cgroup.ts";
import { unmountSync } from "./drivers/_mount.ts";
import { hostVethName } from "./network/networks.ts";

const OWNER_FILE = ".a3s-test-owner";
/** The prefixes of box's test and bench homes under /tmp; the sweep looks at nothing else. */
const HOME_PREFIX = "a3sb";
const CGROUP_GROUP = "a3s-box";

/** The start time of process `pid` (field 22 of its stat), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; the fields after it do not.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Makes a test home under /tmp owned by this process (removed by {@linkcode removeTestHome}). */
export async function makeTestHomeDir(prefix: string): Promise<string> {
  if (!prefix.startsWith(HOME_PREFIX)) {
    throw new Error(`test home prefix must start ${HOME_PREFIX}`);
  }
  sweepOnce ??= Promise.resolve().then(sweepAbandonedTestHomes);
  await sweepOnce;
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix });
  await Deno.writeTextFile(join(home, OWNER_FILE), `${Deno.pid} ${startTime(Deno.pid)}\n`);
  return home;
}

let sweepOnce: Promise<string[]> | undefined;

/** Whether the process that made `home` is gone (a home without an owner file is not ours). */
function isAbandoned(home: string): boolean {
  let owner: string;
  try {
    owner = Deno.readTextFileSync(join(home, OWNER_FILE)).trim();
  } catch {
    return false;
  }
  const [pid, started] = owner.split(" ");
  return startTime(Number(pid)) !== started;
}

/**
 * Tears down every test home under /tmp whose owning process is gone (a test or bench killed
 * before its cleanup ran); returns the homes it removed.
 */
export function sweepAbandonedTestHomes(): string[] {
  const removed: string[] = [];
  for (const entry of Deno.readDirSync("/tmp")) {
    if (!entry.isDirectory || !entry.name.startsWith(HOME_PREFIX)) continue;
    const home = join("/tmp", entry.name);
    if (!isAbandoned(home)) continue;
    removeTestHome(home);
    removed.push(home);
  }
  return removed;
}

/** The mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const points = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter(Boolean)
    .map((line) =>
      line.split(" ")[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
    )
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** The network records of a home (drafts of networks being created included). */
function homeNetworks(
  home: string,
): { id?: string; netns?: string; hostGateway?: string; members?: { netns?: string }[] }[] {
  const dir = join(home, "box", "networks");
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  return entries.filter((entry) => entry.name.endsWith(".json")).flatMap((entry) => {
    try {
      return [JSON.parse(Deno.readTextFileSync(join(dir, entry.name)))];
    } catch {
      return []; // a record being written; the rest still go
    }
  });
}

/** The network namespaces a home's networks and their members hold. */
export function homeNetworkNamespaces(home: string): string[] {
  const names = homeNetworks(home).flatMap((record) => [
    ...(record.netns ? [record.netns] : []),
    ...(record.members ?? []).flatMap((member) => member.netns ? [member.netns] : []),
  ]);
  return [...new Set(names)];
}

/** The host ends of the veth pairs of a home's `hostAccess` networks. */
export function homeHostVeths(home: string): string[] {
  return homeNetworks(home).flatMap((record) =>
    record.hostGateway && record.id ? [hostVethName(record.id)] : []
  );
}

/** The cgroup dirs of the boxes whose state dirs (named by the id's first 12) lie in `home`. */
export function homeCgroupDirs(home: string): string[] {
  const prefixes: string[] = [];
  try {
    for (const entry of Deno.readDirSync(join(home, "box", "boxes"))) prefixes.push(entry.name);
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (
    const parent of ["memory", "pids", "cpu", "cpuacct", "."].map((c) =>
      join(CGROUP_ROOT, c, CGROUP_GROUP)
    )
  ) {
    try {
      for (const entry of Deno.readDirSync(parent)) {
        if (entry.isDirectory && prefixes.some((p) => entry.name.startsWith(p))) {
          dirs.push(join(parent, entry.name));
        }
      }
    } catch { /* no such hierarchy here */ }
  }
  return dirs;
}

function cgroupProcs(dir: string): number[] {
  try {
    return Deno.readTextFileSync(join(dir, "cgroup.procs")).split("\n").filter(Boolean).map(
      Number,
    );
  } catch {
    return [];
  }
}

/** Pids whose command line names `home` or one of `netns` (bubblewrap, forwarders, QEMU). */
function processesNaming(home: string, netns: string[]): number[] {
  const inHome = (arg: string) => arg === home || arg.includes(`${home}/`);
  const paths = new Set(netns.map((n) => `/run/netns/${n}`));
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      if (args.some((arg) => inHome(arg) || paths.has(arg))) pids.push(pid);
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}

/**
 * Removes a test home and everything it holds on the host, whatever state its test left it in:
 * kills its boxes' processes, unmounts what is mounted under it, deletes its networks'
 * namespaces and its boxes' cgroups, then the dir. Synchronous, so a bench's unload handler can
 * run it too.
 */
export function removeTestHome(home: string): void {
  const netns = homeNetworkNamespaces(home);
  const cgroups = homeCgroupDirs(home);
  kill([...processesNaming(home, netns), ...cgroups.flatMap(cgroupProcs)]);
  for (const point of mountsUnder(home)) unmountSync(point);
  // Deleted first: a deleted namespace takes its pair's host end only when the kernel gets to it.
  for (const veth of homeHostVeths(home)) {
    new Deno.Command("ip", { args: ["link", "del", veth], stdout: "null", stderr: "null" })
      .outputSync();
  }
  for (const name of netns) {
    new Deno.Command("ip", { args: ["netns", "delete", name], stdout: "null", stderr: "null" })
      .outputSync();
  }
  // A killed group empties within moments; rmdir fails with EBUSY until it has.
  const deadline = Date.now() + 5000;
  let left = cgroups;
  while (left.length > 0 && Date.now() < deadline) {
    left = left.filter((dir) => {
      try {
        Deno.removeSync(dir);
        return false;
      } catch (error) {
        return !(error instanceof Deno.errors.NotFound);
      }
    });
    if (left.length > 0) {
      kill(left.flatMap(cgroupProcs));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    Deno.removeSync(home, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
