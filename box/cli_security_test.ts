/**
 * Docker's security flags on `box run` and `box create`: each reaches a real box (checked from
 * inside it), and a malformed or unsupported value exits 2 with one line.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { main } from "./cli.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

async function capture(args: string[], home: string): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const error = console.error;
  const log = console.log;
  console.error = (...values: unknown[]) => err.push(values.join(" "));
  console.log = () => {};
  try {
    const [command, ...rest] = args;
    return { code: await main([command, "--home", home, ...rest]), err: err.join("\n") };
  } finally {
    console.error = error;
    console.log = log;
  }
}

async function captureOut(args: string[], home: string): Promise<string> {
  const out: string[] = [];
  const log = console.log;
  console.log = (...values: unknown[]) => out.push(values.join(" "));
  try {
    const [command, ...rest] = args;
    await main([command, "--home", home, ...rest]);
    return out.join("\n");
  } finally {
    console.log = log;
  }
}

/** `run` streams the box's output to the process's own stdout, so it runs as a subprocess. */
async function runCli(args: string[], home: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
    env: { A3S_HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    out: new TextDecoder().decode(output.stdout),
    err: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("box CLI: security flags reach the box; bad values exit 2 with one line", async () => {
  const home = await makeTestHomeDir("a3sbs");
  try {
    assertEquals((await capture(["import-busybox"], home)).code, 0);
    const profile = join(home, "no-mkdir.json");
    await Deno.writeTextFile(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    const notify = join(home, "notify.json");
    await Deno.writeTextFile(notify, JSON.stringify({ defaultAction: "SCMP_ACT_NOTIFY" }));
    const broken = join(home, "broken.json");
    await Deno.writeTextFile(broken, "{");

    const script = [
      "grep CapEff /proc/self/status",
      "cat /proc/sys/net/ipv4/ip_forward",
      "touch /f 2>&1",
      "mkdir /dev/shm/d 2>&1",
      "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc",
    ].join("; ");
    const hardened = await runCli([
      "run",
      "--rm",
      "--cap-drop",
      "ALL",
      "--cap-add",
      "NET_RAW",
      "--read-only",
      "--sysctl",
      "net.ipv4.ip_forward=1",
      "--security-opt",
      `seccomp=${profile}`,
      "--security-opt",
      "no-new-privileges",
      "--pid",
      "host",
      "--ipc",
      "host",
      "busybox",
      "sh",
      "-c",
      script,
    ], home);
    assertEquals(hardened.code, 0, hardened.err);
    const lines = hardened.out.trim().split("\n");
    assertEquals(lines[0], "CapEff:\t0000000000002000");
    assertEquals(lines[1], "1");
    assert(/Read-only file system/.test(lines[2]), lines[2]);
    assert(/Operation not permitted/.test(lines[3]), lines[3]);
    assertEquals(lines.slice(4), [
      await Deno.readLink("/proc/self/ns/pid"),
      await Deno.readLink("/proc/self/ns/ipc"),
    ]);

    const privileged = await runCli([
      "run",
      "--rm",
      "--privileged",
      "busybox",
      "grep",
      "-E",
      "CapEff|Seccomp:",
      "/proc/self/status",
    ], home);
    assertEquals(privileged.out, "CapEff:\t000001ffffffffff\nSeccomp:\t0\n");

    // -t without a terminal here: the main command gets the box's own terminal.
    const tty = await runCli(["run", "--rm", "-t", "busybox", "tty"], home);
    assertEquals([tty.code, tty.out], [0, "/dev/pts/0\r\n"]);

    // A driver that does not apply security settings refuses them before making anything.
    const info = JSON.parse(await captureOut(["info", "--json"], home));
    const qemu = info.drivers?.find((d: { name: string }) => d.name === "qemu");
    if (qemu?.available) {
      const refused = await capture(["create", "--driver", "qemu", "--read-only", "busybox"], home);
      assertEquals(refused.code, 2, refused.err);
      assert(refused.err.includes("driver qemu cannot apply security settings"), refused.err);
    } else {
      console.log("SKIPPED: the qemu driver's refusal (qemu is not available here)");
    }

    for (
      const [args, message] of [
        [["--cap-add", "NOPE"], "unknown capability 'NOPE' in --cap-add"],
        [["--cap-drop", "CAP_FLY"], "unknown capability 'CAP_FLY' in --cap-drop"],
        [["--sysctl", "noequals"], "invalid --sysctl 'noequals'"],
        [["--sysctl", "kernel.panic=1"], "kernel.panic is not namespaced"],
        [["--security-opt", "apparmor=unconfined"], "unsupported --security-opt"],
        [["--security-opt", "seccomp=/no/such/profile.json"], "cannot read seccomp profile"],
        [["--security-opt", `seccomp=${broken}`], "not JSON"],
        [["--security-opt", `seccomp=${notify}`], "SCMP_ACT_NOTIFY"],
        [["--security-opt", "no-new-privileges=false"], "cannot be turned off"],
        [["--pid", "container:web"], "invalid --pid 'container:web'"],
        [["--ipc", "shareable"], "invalid --ipc 'shareable'"],
      ] as const
    ) {
      for (const command of ["run", "create"]) {
        const result = await capture([command, ...args, "busybox", "true"], home);
        assertEquals(result.code, 2, `${command} ${args.join(" ")}: ${result.err}`);
        assert(result.err.includes(message), result.err);
        assertEquals(result.err.split("\n").length, 1, result.err);
      }
    }
  } finally {
    removeTestHome(home);
  }
});
