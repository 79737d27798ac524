/**
 * The namespace driver from inside real boxes: execs as the image's users (resolved in the box's
 * own /etc/passwd), and the launcher's guarantees: seccomp loaded, every process of the box in
 * its cgroups, no controlling terminal, no descriptor leaked into the box.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { execText, openNamespaceBoxes, withNamespaceBoxes } from "../_test_support.ts";
import { BoxCgroup, detectCgroupMode } from "./cgroup.ts";
import { buildAgent } from "../agent/build.ts";

const encoder = new TextEncoder();

function assertIncludes(text: string, part: string): void {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
}

const withBoxes = withNamespaceBoxes;
const run = execText;

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "app:x:1000:1000:app:/home/app:/bin/sh",
  "nobody:x:65534:65534:nobody:/:/bin/false",
  "",
].join("\n");
const GROUP = ["root:x:0:", "app:x:1000:", "staff:x:50:app", "nogroup:x:65534:", ""].join("\n");

Deno.test("exec --user: names, ids and groups from the box's own passwd and group files", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: mapping the image's users needs root (bubblewrap maps one id otherwise)");
    return;
  }
  await withBoxes(async (boxes, home) => {
    const volume = await Deno.makeTempDir({ dir: home.home, prefix: "vol" });
    await Deno.chmod(volume, 0o777);
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sleep", "60"],
      volumes: [{ host: volume, guest: "/data", readOnly: false }],
    });
    await boxes.copyIn(info.id, encoder.encode(PASSWD), "/etc/passwd");
    await boxes.copyIn(info.id, encoder.encode(GROUP), "/etc/group");
    const ids = ["sh", "-c", 'echo "$(id -u) $(id -g) $(id -G) $HOME"'];

    assertEquals((await run(boxes, info.id, ids)).stdout, "0 0 0 /root");
    // A name: its uid, primary group, the groups listing it, and its home.
    assertEquals((await run(boxes, info.id, ids, "app")).stdout, "1000 1000 1000 50 /home/app");
    // A known uid resolves like its name; an unknown one gets group 0, as in Docker.
    assertEquals((await run(boxes, info.id, ids, "1000")).stdout, "1000 1000 1000 50 /home/app");
    assertEquals((await run(boxes, info.id, ids, "4242")).stdout, "4242 0 0 /");
    assertEquals((await run(boxes, info.id, ids, "app:staff")).stdout, "1000 50 50 /home/app");
    // The given group replaces the primary one; the groups listing the user stay.
    assertEquals((await run(boxes, info.id, ids, "1000:7")).stdout, "1000 7 7 50 /home/app");
    assertEquals((await run(boxes, info.id, ids, "nobody")).stdout, "65534 65534 65534 /");

    const ghost = await run(boxes, info.id, ["true"], "ghost");
    assertEquals(ghost.exitCode, 126);
    assertIncludes(ghost.stderr, "unable to find user ghost");
    const noGroup = await run(boxes, info.id, ["true"], "app:ghosts");
    assertEquals(noGroup.exitCode, 126);
    assertIncludes(noGroup.stderr, "unable to find group ghosts");

    // The user is real outside the box too: what it writes on a volume is the host's uid 1000.
    await run(boxes, info.id, ["touch", "/data/by-app"], "app");
    const written = await Deno.stat(join(volume, "by-app"));
    assertEquals([written.uid, written.gid], [1000, 1000]);
    // And a non-root user gets no more than its permissions: root's home stays closed.
    const denied = await run(boxes, info.id, ["sh", "-c", "echo x > /root/f"], "app");
    assert(denied.exitCode !== 0, "app could write to /root");

    const bad = await boxes.exec(info.id, { command: ["true"], user: "a b" }).catch((e) => e);
    assert(bad instanceof A3sError && bad.field === "user", String(bad));
  });
});

Deno.test("run --user: the main command runs as the image's user", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: mapping the image's users needs root");
    return;
  }
  await withBoxes(async (boxes) => {
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", 'echo "$(id -u):$(id -g) $HOME"'],
      user: "nobody",
    });
    const done = await boxes.wait(info.id);
    assertEquals(done.exitCode, 0);
    let text = "";
    for await (const chunk of boxes.logs(info.id)) text += new TextDecoder().decode(chunk.data);
    assertEquals(text.trim(), "65534:65534 /");
  });
});

/**
 * A process and its live descendants, through /proc, leaving out the launcher's short-lived host
 * helpers (still named `launch`, never running anything of the box) and exited ones.
 */
/** Polls `read` until `done` holds of its value or 5 s pass; returns the last value read. */
async function settled<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    value = await read();
  }
  return value;
}

async function processTree(pid: number): Promise<number[]> {
  const children = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => ""))
    .split(" ").filter(Boolean).map(Number);
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  const skip = !stat || state === "Z" || cmdline.split("\0")[1] === "launch";
  return [...(skip ? [] : [pid]), ...(await Promise.all(children.map(processTree))).flat()];
}

async function groupMembers(dir: string): Promise<number[]> {
  return (await Deno.readTextFile(join(dir, "cgroup.procs"))).split("\n").filter(Boolean)
    .map(Number);
}

Deno.test("launcher: seccomp loaded, every box process in its cgroups, no tty, no stray fds", async () => {
  await withBoxes(async (boxes, home) => {
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "sleep 60; true"],
      limits: { pids: 32, memoryBytes: 64 * 1024 * 1024 },
    });
    const status = await run(boxes, info.id, ["cat", "/proc/self/status"]);
    assertIncludes(status.stdout, "Seccomp:\t2");
    assertIncludes(status.stdout, "NoNewPrivs:\t1");
    // tty_nr (field 7 of stat) is 0: no controlling terminal to inject input into.
    const stat = await run(boxes, info.id, ["cat", "/proc/self/stat"]);
    assertEquals(stat.stdout.slice(stat.stdout.lastIndexOf(")") + 2).split(" ")[4], "0");
    const fds = await run(boxes, info.id, ["ls", "/proc/self/fd"]);
    assertEquals(fds.stdout.split(/\s+/).map(Number).sort(), [0, 1, 2, 3]);
    const mode = await detectCgroupMode();
    if (mode === "none") return;
    // From the host: bubblewrap, the agent (the sandbox's pid 1) and the main command (sh,
    // sleep) are all members of every group the box joins.
    const record = JSON.parse(
      await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
    );
    // sh forks sleep a moment after the box starts (later under load).
    const tree = await settled(() => processTree(record.pid), (pids) => pids.length >= 4);
    assert(tree.length >= 4, `box processes: ${tree}`);
    const cgroup = new BoxCgroup(mode, info.id);
    for (const dir of cgroup.joinDirs({ pids: 32 })) {
      const members = await groupMembers(dir);
      for (const pid of tree) assert(members.includes(pid), `${pid} is not in ${dir}: ${members}`);
    }
    if (mode !== "v1") return;
    // Without a CPU limit the box skipped its v1 cpu group; a limit set live moves it there.
    const cpuDir = cgroup.dirs.find((d) => d.includes("/cpu/"))!;
    assertEquals(await groupMembers(cpuDir), []);
    await boxes.update(info.id, { cpus: 0.5 });
    const moved = await groupMembers(cpuDir);
    for (const pid of tree) assert(moved.includes(pid), `${pid} is not in ${cpuDir}: ${moved}`);
  });
});

Deno.test("/dev: the devices, links, a devpts and shm of the box's own; no node can be added", async () => {
  await withBoxes(async (boxes, home) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    // What bubblewrap's --dev gives: the same six character devices, by number.
    const nodes = await run(boxes, info.id, [
      "sh",
      "-c",
      "for n in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$n; done",
    ]);
    assertEquals(nodes.stdout.split("\n"), [
      "/dev/null character special file 1:3 666",
      "/dev/zero character special file 1:5 666",
      "/dev/full character special file 1:7 666",
      "/dev/random character special file 1:8 666",
      "/dev/urandom character special file 1:9 666",
      "/dev/tty character special file 5:0 666",
    ]);
    const links = await run(boxes, info.id, [
      "sh",
      "-c",
      "for l in fd stdin stdout stderr core ptmx; do readlink /dev/$l; done",
    ]);
    assertEquals(links.stdout.split("\n"), [
      "/proc/self/fd",
      "/proc/self/fd/0",
      "/proc/self/fd/1",
      "/proc/self/fd/2",
      "/proc/kcore",
      "pts/ptmx",
    ]);
    const works = await run(boxes, info.id, [
      "sh",
      "-c",
      "echo gone > /dev/null && head -c 5 /dev/zero | wc -c && head -c 7 /dev/urandom | wc -c " +
      "&& echo kept > /dev/shm/f && cat /dev/shm/f && echo new > /dev/made-here && cat /dev/made-here",
    ]);
    assertEquals(works.stdout, "5\n7\nkept\nnew");
    // A terminal comes from the box's own devpts (an exec on a tty).
    const onTty = await boxes.exec(info.id, { command: ["tty"], tty: true });
    await onTty.stdin.close();
    const ttyOut = await new Response(onTty.stdout).text();
    assertEquals([(await onTty.status).exitCode, ttyOut.trim()], [0, "/dev/pts/0"]);
    // Nothing in the box can make a device node, even as its root.
    const mknod = await run(boxes, info.id, ["mknod", "/dev/sda", "b", "8", "0"]);
    assert(mknod.exitCode !== 0, "mknod succeeded in the box");
    // The /dev is the box's own: another box does not see this one's files, and the host's
    // mount table holds no mount of it.
    const other = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    assertEquals((await run(boxes, other.info.id, ["ls", "/dev/made-here"])).exitCode, 1);
    const stateDir = join(home.home, "box/boxes", info.id.slice(0, 12));
    assert(
      !Deno.readTextFileSync("/proc/self/mountinfo").includes(join(stateDir, "dev")),
      "the box's /dev is mounted on the host",
    );
  });
});

Deno.test("launcher on cgroup v2: bubblewrap is cloned into the box's group, never moved", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: mounting a cgroup v2 hierarchy needs root");
    return;
  }
  // This host may mount only v1 controllers; the unified hierarchy still exists and takes
  // CLONE_INTO_CGROUP, which is all the launcher's v2 path needs.
  const mount = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3scg2" });
  const mounted = await new Deno.Command("mount", {
    args: ["-t", "cgroup2", "none", mount],
    stderr: "piped",
  }).output();
  if (!mounted.success) {
    console.log(
      `SKIPPED: cannot mount cgroup2: ${new TextDecoder().decode(mounted.stderr).trim()}`,
    );
    await Deno.remove(mount);
    return;
  }
  const name = `a3s-test-${crypto.randomUUID().slice(0, 8)}`;
  const group = join(mount, name);
  try {
    await Deno.mkdir(group);
    const agent = await buildAgent("/tmp/a3s-box-test-agent");
    const script = "grep ^0:: /proc/self/cgroup; cat /proc/sys/net/ipv4/ip_forward; exit 7";
    const launched = await new Deno.Command(agent, {
      args: [
        "launch",
        "--into-cgroup",
        group,
        // A sysctl makes the launcher's helper take part too (it holds the sandbox until set).
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--",
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--unshare-net",
        "--proc",
        "/proc",
        "sh",
        "-c",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(launched.stderr);
    // The launcher stays as bubblewrap's parent and exits with its status.
    assertEquals(launched.code, 7, err);
    // grep, a grandchild of the sandbox's init, was born in the box's group.
    assertEquals(new TextDecoder().decode(launched.stdout).split("\n").slice(0, 2), [
      `0::/${name}`,
      "1",
    ]);
    // The sandbox's last processes leave the group as the kernel finishes tearing down its pid
    // namespace, which under load can trail the launcher's exit by a moment.
    const left = await settled(
      async () => (await Deno.readTextFile(join(group, "cgroup.procs"))).trim(),
      (procs) => procs === "",
    );
    assertEquals(left, "");
  } finally {
    await Deno.remove(group).catch(() => {});
    await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(mount).catch(() => {});
  }
});

Deno.test("a whole box on cgroup v2: born in its group, exec, stop, kill and removal", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: mounting a cgroup v2 hierarchy needs root");
    return;
  }
  const mount = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3scg2" });
  const mounted = await new Deno.Command("mount", { args: ["-t", "cgroup2", "none", mount] })
    .output();
  if (!mounted.success) {
    console.log("SKIPPED: cannot mount cgroup2 here");
    await Deno.remove(mount);
    return;
  }
  // This host's controllers may all be on v1: the v2 path runs without limits here.
  const { home, boxes } = await openNamespaceBoxes({ cgroupRoot: mount, cgroupMode: "v2" });
  try {
    const { info } = await boxes.run({ image: "busybox", command: ["sh", "-c", "sleep 60; true"] });
    const group = new BoxCgroup("v2", info.id, mount).dirs[0];
    const record = JSON.parse(
      await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
    );
    assertEquals(record.monitor, true);
    // bubblewrap, the agent (the sandbox's pid 1), sh and sleep: all in the group, the launcher
    // (their parent on the host) not.
    // sh forks sleep a moment after the box starts (later under load).
    const tree = await settled(() => processTree(record.pid), (pids) => pids.length >= 4);
    assert(tree.length >= 4, `box processes: ${tree}`);
    const members = await groupMembers(group);
    for (const pid of tree) assert(members.includes(pid), `${pid} is not in ${group}: ${members}`);
    assert(!members.includes(record.pid), "the launcher is in the box's group");
    assertEquals(
      (await run(boxes, info.id, ["cat", "/proc/self/status"])).stdout.match(
        /Seccomp:\t(\d)/,
      )?.[1],
      "2",
    );
    await boxes.stop(info.id, 1);
    assertEquals((await boxes.inspect(info.id)).state, "exited");

    const killed = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    await boxes.kill(killed.info.id, 9);
    assertEquals((await boxes.inspect(killed.info.id)).state, "exited");
    await boxes.remove(killed.info.id, true);
    await boxes.remove(info.id, true);
    assertEquals(await Deno.stat(group).then(() => true, () => false), false);
  } finally {
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
    boxes.close();
    await home.close();
    await Deno.remove(join(mount, "a3s-box")).catch(() => {});
    await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(mount).catch(() => {});
  }
});

Deno.test("a burst of concurrent execs: every one connects and returns its own output", async () => {
  await withBoxes(async (boxes) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    // More connections at once than the agent's old listen backlog (16) held while it waited
    // for a CPU.
    const results = await Promise.all(
      Array.from({ length: 28 }, (_, i) => execText(boxes, info.id, ["echo", `exec-${i}`])),
    );
    assertEquals(
      results.map((r) => [r.exitCode, r.stdout]),
      Array.from({ length: 28 }, (_, i) => [0, `exec-${i}`]),
    );
  });
});

Deno.test("200 execs running at once: each is served, none refused for want of a slot", async () => {
  await withBoxes(async (boxes) => {
    const { info } = await boxes.run({ image: "busybox", command: ["sleep", "120"] });
    const count = 200;
    // Each exec says it started, then blocks on its stdin: once every one has said so, all of
    // them are alive together (the agent once served 32 clients and dropped the 33rd).
    const processes = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          boxes.exec(info.id, { command: ["sh", "-c", `echo started; cat; echo exec-${i}`] }),
      ),
    );
    const readers = processes.map((process) =>
      process.stdout.pipeThrough(new TextDecoderStream()).getReader()
    );
    const readUntil = async (reader: ReadableStreamDefaultReader<string>, end: string | null) => {
      let text = "";
      while (end === null || !text.includes(end)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      return text;
    };
    const started = await Promise.all(readers.map((reader) => readUntil(reader, "\n")));
    assertEquals(started, Array(count).fill("started\n"));
    await Promise.all(processes.map((process) => process.stdin.close()));
    const rest = await Promise.all(readers.map((reader) => readUntil(reader, null)));
    assertEquals(rest, Array.from({ length: count }, (_, i) => `exec-${i}\n`));
    const statuses = await Promise.all(processes.map((process) => process.status));
    assertEquals(statuses.map((status) => status.exitCode), Array(count).fill(0));
  });
});
