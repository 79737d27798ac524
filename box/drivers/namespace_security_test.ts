/**
 * `BoxSpec.security` on the namespace driver, checked from inside real boxes: the capability set
 * (Docker's default, added, dropped, privileged), seccomp (ours, none, a user's profile), a
 * read-only root, namespaced sysctls, and the host's pid and IPC namespaces; settings the driver
 * cannot honour are refused with the field that asked for them.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { execText, withNamespaceBoxes } from "../_test_support.ts";
import type { BoxManager, CreateBoxOptions } from "../manager.ts";
import type { BoxSecurity } from "../types.ts";
import { CAPABILITIES, DEFAULT_CAPABILITIES } from "./namespace_security.ts";

const withBoxes = withNamespaceBoxes;
const run = execText;

/** Starts an idle box with `security` (and any other options) and returns its id. */
async function box(
  boxes: BoxManager,
  security: BoxSecurity,
  options: Partial<CreateBoxOptions> = {},
): Promise<string> {
  const { info } = await boxes.run({
    image: "busybox",
    command: ["sleep", "60"],
    security,
    ...options,
  });
  return info.id;
}

/** The box's `Cap*` and seccomp lines of /proc/self/status, by name. */
async function status(boxes: BoxManager, id: string, user?: string) {
  const text = (await run(boxes, id, ["cat", "/proc/self/status"], user)).stdout;
  const field = (name: string) => text.match(new RegExp(`^${name}:\\s+(\\S+)`, "m"))?.[1] ?? "";
  return {
    effective: BigInt(`0x${field("CapEff")}`),
    bounding: BigInt(`0x${field("CapBnd")}`),
    seccomp: field("Seccomp"),
    noNewPrivs: field("NoNewPrivs"),
  };
}

function mask(names: readonly string[]): bigint {
  return names.reduce((m, name) => m | (1n << BigInt(CAPABILITIES.indexOf(name))), 0n);
}

function refusedField(error: unknown): string | undefined {
  assert(error instanceof A3sError, `expected a refusal, got ${error}`);
  return error.field;
}

Deno.test("security: Docker's default capabilities, added, dropped and privileged", async () => {
  await withBoxes(async (boxes) => {
    // bubblewrap alone would leave a box's root almost every capability of its namespace.
    const plain = await status(boxes, await box(boxes, {}));
    assertEquals(plain.effective, mask(DEFAULT_CAPABILITIES));
    assertEquals(plain.bounding, mask(DEFAULT_CAPABILITIES));
    assertEquals([plain.seccomp, plain.noNewPrivs], ["2", "1"]);

    const narrow = await status(
      boxes,
      await box(boxes, { capDrop: ["ALL"], capAdd: ["NET_BIND_SERVICE", "cap_net_admin"] }),
    );
    assertEquals(narrow.effective, mask(["NET_BIND_SERVICE", "NET_ADMIN"]));
    const dropped = await status(boxes, await box(boxes, { capDrop: ["CHOWN", "KILL"] }));
    assertEquals(
      dropped.effective,
      mask(DEFAULT_CAPABILITIES.filter((c) => c !== "CHOWN" && c !== "KILL")),
    );
    // Without CHOWN, chown fails even for root.
    const noChown = await box(boxes, { capDrop: ["CHOWN"] });
    const chown = await run(boxes, noChown, ["sh", "-c", "touch /tmp/f && chown 1:1 /tmp/f"]);
    assert(chown.exitCode !== 0 && /not permitted/i.test(chown.stderr), chown.stderr);

    const privileged = await status(boxes, await box(boxes, { privileged: true }));
    assertEquals(privileged.effective, mask(CAPABILITIES));
    assertEquals([privileged.seccomp, privileged.noNewPrivs], ["0", "1"]);

    const bad = await box(boxes, { capAdd: ["SUPERPOWER"] }).catch((e) => e);
    assertEquals(refusedField(bad), "security.capAdd.0");
  });
});

Deno.test("security: a non-root user with every capability dropped", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: running as the image's users needs root");
    return;
  }
  await withBoxes(async (boxes) => {
    const id = await box(boxes, { capDrop: ["ALL"] }, { user: "nobody" });
    const main = await status(boxes, id);
    assertEquals(main.effective, 0n);
    assertEquals((await run(boxes, id, ["id", "-u"])).stdout, "65534");
    // The agent kept SETUID and SETGID only to become the user; a root exec would hold them.
    const root = await boxes.exec(id, { command: ["id"], user: "root" }).catch((e) => e);
    assertEquals(refusedField(root), "user");
  });
});

Deno.test("security: seccomp unconfined, and a user's profile enforced", async () => {
  await withBoxes(async (boxes) => {
    const unconfined = await status(boxes, await box(boxes, { seccomp: { kind: "unconfined" } }));
    assertEquals([unconfined.seccomp, unconfined.noNewPrivs], ["0", "1"]);

    const id = await box(boxes, {
      seccomp: {
        kind: "profile",
        profile: {
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          syscalls: [
            { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" },
            // rmdir only of a path whose pointer is not 0: every real call, so rmdir is denied.
            {
              names: ["rmdir"],
              action: "SCMP_ACT_ERRNO",
              errnoRet: 13,
              args: [{ index: 0, value: 0, op: "SCMP_CMP_NE" }],
            },
          ],
        },
      },
    });
    assertEquals((await status(boxes, id)).seccomp, "2");
    const mkdir = await run(boxes, id, ["mkdir", "/tmp/x"]);
    assert(mkdir.exitCode !== 0 && /Operation not permitted/.test(mkdir.stderr), mkdir.stderr);
    const rmdir = await run(boxes, id, ["rmdir", "/tmp"]);
    assert(rmdir.exitCode !== 0 && /Permission denied/.test(rmdir.stderr), rmdir.stderr);
    // What the profile allows still works.
    assertEquals(
      (await run(boxes, id, ["sh", "-c", "echo ok > /tmp/f && cat /tmp/f"])).stdout,
      "ok",
    );

    const bad = await box(boxes, {
      seccomp: { kind: "profile", profile: { defaultAction: "SCMP_ACT_NOTIFY" } },
    }).catch((e) => e);
    assertEquals(refusedField(bad), "security.seccomp.profile.defaultAction");
  });
});

Deno.test("security: a read-only root keeps volumes, /dev and the agent writable", async () => {
  await withBoxes(async (boxes, home) => {
    const volume = await Deno.makeTempDir({ dir: home.home, prefix: "vol" });
    const id = await box(boxes, { readOnlyRootfs: true }, {
      volumes: [{ host: volume, guest: "/data", readOnly: false }],
    });
    for (const path of ["/f", "/tmp/f", "/etc/f"]) {
      const write = await run(boxes, id, ["touch", path]);
      assert(/Read-only file system/.test(write.stderr), `${path}: ${write.stderr}`);
    }
    assertEquals(
      (await run(boxes, id, ["sh", "-c", "echo v > /data/f && cat /data/f"])).stdout,
      "v",
    );
    assertEquals(await Deno.readTextFile(join(volume, "f")), "v\n");
    assertEquals(
      (await run(boxes, id, ["sh", "-c", "echo d > /dev/shm/f && cat /dev/shm/f"])).stdout,
      "d",
    );
    // The same image without the setting stays writable.
    const writable = await box(boxes, {});
    assertEquals((await run(boxes, writable, ["touch", "/f"])).exitCode, 0);
  });
});

Deno.test("security: namespaced sysctls are set inside the box only; others are refused", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: setting sysctls needs root");
    return;
  }
  await withBoxes(async (boxes) => {
    const hostForward = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
    const hostShmmni = (await Deno.readTextFile("/proc/sys/kernel/shmmni")).trim();
    const id = await box(boxes, {
      sysctls: {
        "net.ipv4.ip_forward": hostForward === "1" ? "0" : "1",
        "kernel.shmmni": "1234",
        "net.ipv4.ping_group_range": "0 1000",
      },
    });
    const read = await run(boxes, id, [
      "cat",
      "/proc/sys/net/ipv4/ip_forward",
      "/proc/sys/kernel/shmmni",
      "/proc/sys/net/ipv4/ping_group_range",
    ]);
    assertEquals(read.stdout.split(/\s+/), [hostForward === "1" ? "0" : "1", "1234", "0", "1000"]);
    assertEquals((await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim(), hostForward);
    assertEquals((await Deno.readTextFile("/proc/sys/kernel/shmmni")).trim(), hostShmmni);

    const notNamespaced = await box(boxes, { sysctls: { "kernel.panic": "1" } }).catch((e) => e);
    assertEquals(refusedField(notNamespaced), "security.sysctls.kernel.panic");
    const hostNet = await box(boxes, { sysctls: { "net.ipv4.ip_forward": "1" } }, {
      network: "host",
    }).catch((e) => e);
    assertEquals(refusedField(hostNet), "security.sysctls.net.ipv4.ip_forward");
    const hostIpc = await box(boxes, { hostIpc: true, sysctls: { "kernel.shmmni": "10" } })
      .catch((e) => e);
    assertEquals(refusedField(hostIpc), "security.sysctls.kernel.shmmni");
    // A namespaced name the kernel does not have fails the start with the launcher's line.
    const unknown = await box(boxes, { sysctls: { "net.ipv4.no_such_knob": "1" } })
      .catch((e) => e);
    assert(unknown instanceof A3sError && /no_such_knob/.test(unknown.message), String(unknown));
  });
});

Deno.test("security: the host's pid and IPC namespaces, shared on request only", async () => {
  await withBoxes(async (boxes) => {
    const ns = async (id: string, kind: string) =>
      (await run(boxes, id, ["readlink", `/proc/self/ns/${kind}`])).stdout;
    const hostPidNs = await Deno.readLink("/proc/self/ns/pid");
    const hostIpcNs = await Deno.readLink("/proc/self/ns/ipc");

    const own = await box(boxes, {});
    assert((await ns(own, "pid")) !== hostPidNs);
    assert((await ns(own, "ipc")) !== hostIpcNs);

    const shared = await box(boxes, { hostPid: true, hostIpc: true });
    assertEquals(await ns(shared, "pid"), hostPidNs);
    assertEquals(await ns(shared, "ipc"), hostIpcNs);
    // The host's pid 1 is visible, and the box still stops whole.
    const init = (await run(boxes, shared, ["cat", "/proc/1/comm"])).stdout;
    assertEquals(init, (await Deno.readTextFile("/proc/1/comm")).trim());
    await boxes.stop(shared, 1);
    assertEquals((await boxes.inspect(shared)).state, "exited");
  });
});

Deno.test("tty: the main command runs on a terminal of the box's own; its output is one stream", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: a terminal for the main command needs root");
    return;
  }
  await withBoxes(async (boxes) => {
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo terminal; echo to-stderr >&2"],
      tty: true,
    });
    const done = await boxes.wait(info.id);
    assertEquals(done.exitCode, 0);
    const streams: Record<string, string> = { stdout: "", stderr: "" };
    for await (const chunk of boxes.logs(info.id)) {
      streams[chunk.stream] += new TextDecoder().decode(chunk.data);
    }
    // A terminal turns "\n" into "\r\n"; stderr arrives on the same stream.
    assertEquals(streams.stdout.replaceAll("\r\n", "\n"), "/dev/pts/0\nterminal\nto-stderr\n");
    assertEquals(streams.stderr, "");
    // An interactive box's stdin reaches the command through the terminal (echoed, as typed).
    const chat = await boxes.run({
      image: "busybox",
      command: ["sh", "-c", "read line; echo got:$line"],
      tty: true,
      interactive: true,
    });
    const writer = chat.stdin!.getWriter();
    await writer.write(new TextEncoder().encode("hello\n"));
    await writer.close();
    assertEquals((await boxes.wait(chat.info.id)).exitCode, 0);
    let typed = "";
    for await (const chunk of boxes.logs(chat.info.id)) {
      typed += new TextDecoder().decode(chunk.data);
    }
    assertEquals(typed.replaceAll("\r\n", "\n"), "hello\ngot:hello\n");
    // The terminal starts at the usual 80x24, then follows the caller's size (Docker's resize),
    // seen from inside the box.
    const sized = await boxes.run({ image: "busybox", command: ["sleep", "60"], tty: true });
    assertEquals(
      (await run(boxes, sized.info.id, ["stty", "-F", "/dev/pts/0", "size"])).stdout,
      "24 80",
    );
    await boxes.resizeTerminal(sized.info.id, 33, 101);
    const size = await run(boxes, sized.info.id, ["stty", "-F", "/dev/pts/0", "size"]);
    assertEquals(size.stdout, "33 101");
    // Without -t nothing in the box has a terminal.
    const plain = await boxes.run({ image: "busybox", command: ["tty"] });
    assertEquals((await boxes.wait(plain.info.id)).exitCode, 1);
  });
});
