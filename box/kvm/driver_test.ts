import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { KvmDriver } from "./driver.ts";
import { probeKvm } from "./probe.ts";
import { kvmAvailable } from "./_test_support.ts";
import { GUESTS } from "./testdata/guests.ts";
import { AgentClient } from "../agent/client.ts";
import { FrameType } from "@a3s/wasm/frame";
import { awaitLogKeeper } from "../log_files.ts";
import { join } from "node:path";

const spec = {
  id: "b1",
  rootfs: "/nonexistent",
  stateDir: "/nonexistent",
  command: ["true"],
  env: {},
  volumes: [],
  limits: {},
  network: "none" as const,
};

Deno.test("kvm probe: guest programs run here and the Linux answer says why", {
  ignore: !kvmAvailable(),
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const probe = await probeKvm();
  assertEquals(probe.guestPrograms, true, probe.reason);
  assert((probe.guestMs ?? -1) >= 0);
  let pvm = false;
  try {
    Deno.statSync("/sys/module/kvm_pvm");
    pvm = true;
  } catch { /* a hardware KVM host */ }
  if (pvm) {
    assertEquals(probe.linuxBoot, false);
    assertEquals(probe.module, "kvm_pvm");
    assert(probe.reason.includes("kvm_pvm"), probe.reason);
  }
  const info = await new KvmDriver().probe();
  assertEquals(info.name, "kvm");
  assertEquals(info.isolation, "vm");
  assertEquals(info.features.guestPrograms, true);
  assertEquals(info.features.linuxBoot, probe.linuxBoot);
  assert(info.detail.includes("guest programs run"), info.detail);
});

Deno.test("kvm driver: fails at once with one line where it cannot run boxes", async () => {
  const driver = new KvmDriver({
    probe: () =>
      Promise.resolve({
        guestPrograms: true,
        linuxBoot: false,
        module: "kvm_pvm",
        guestMs: 1,
        reason: "/dev/kvm is paravirtual (kvm_pvm)",
      }),
  });
  const info = await driver.probe();
  assertEquals(info.available, false);
  assert(info.detail.includes("cannot boot Linux: /dev/kvm is paravirtual"), info.detail);
  const started = performance.now();
  const error = await assertRejects(() => driver.create(spec), A3sError);
  assertEquals(error.code, "driver_unavailable");
  assertEquals(error.status, 400);
  assert(!error.message.includes("\n"));
  const output = { stdoutPath: "/nonexistent/out", stderrPath: "/nonexistent/err" };
  await assertRejects(() => driver.start(spec, output), A3sError, "cannot run boxes here");
  assert(performance.now() - started < 2000);
  assertEquals((await driver.state(spec)).running, false);
});

async function boxDir() {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3skvm" });
  return {
    dir,
    spec: {
      ...spec,
      id: `kvm-${crypto.randomUUID()}`,
      stateDir: `${dir}/box`,
      limits: { memoryBytes: 16 * 1024 * 1024 },
    },
    output: { stdoutPath: `${dir}/out`, stderrPath: `${dir}/err` },
  };
}

Deno.test("kvm driver: a VMM process per box; the agent's frames cross the real virtqueues", {
  ignore: !kvmAvailable(),
}, async () => {
  const { dir, spec, output } = await boxDir();
  const driver = new KvmDriver({
    guestProgram: { image: GUESTS.echo_agent, mode: "protected", entry: 0x100000 },
    bootTimeoutMs: 30_000,
  });
  try {
    const info = await driver.probe();
    assert(info.available, info.detail);
    await driver.create(spec);
    // start returns once a heartbeat went socket → VMM → receiveq → guest → transmitq → back.
    const started = await driver.start(spec, output);
    assertEquals(await driver.state(spec), { running: true, pid: started.pid });
    for (let i = 0; i < 20; i++) await driver.health(spec);

    // Frames of every kind and size (one past a 4 KiB guest buffer) come back byte for byte.
    const conn = await Deno.connect({ transport: "unix", path: `${spec.stateDir}/agent.sock` });
    const client = new AgentClient(conn);
    await client.health();
    client.close();
    const raw = await Deno.connect({ transport: "unix", path: `${spec.stateDir}/agent.sock` });
    const payload = crypto.getRandomValues(new Uint8Array(10_000));
    const { encodeFrame } = await import("@a3s/wasm/frame");
    const sent = encodeFrame({ type: FrameType.Data, streamId: 7, payload });
    await raw.write(sent);
    const got = new Uint8Array(sent.length);
    let at = 0;
    while (at < got.length) {
      const chunk = new Uint8Array(got.length - at);
      const n = await raw.read(chunk);
      if (n === null) break;
      got.set(chunk.subarray(0, n), at);
      at += n;
    }
    raw.close();
    assertEquals(got, sent);

    const stats = await driver.stats(spec);
    assert((stats.memoryBytes ?? 0) > 0);
    assertEquals(stats.memoryLimitBytes, 16 * 1024 * 1024);
    const stopping = performance.now();
    await driver.stop(spec, 10);
    assert(performance.now() - stopping < 2000, "stop ended the VMM at once");
    const state = await driver.state(spec);
    assertEquals([state.running, state.exitCode, state.reason], [false, 143, "stopped"]);
    await assertRejects(() => driver.health(spec), A3sError, "not running");
    await driver.remove(spec);
    await assertRejects(() => Deno.stat(spec.stateDir), Deno.errors.NotFound);
  } finally {
    await driver.remove(spec);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kvm driver: stop and kill end a guest that never exits, without waiting for it", {
  ignore: !kvmAvailable(),
}, async () => {
  const driver = new KvmDriver({
    guestProgram: { image: GUESTS.hang_agent, mode: "protected", entry: 0x100000 },
    bootTimeoutMs: 30_000,
  });
  for (const how of ["stop", "kill"] as const) {
    const { dir, spec, output } = await boxDir();
    try {
      await driver.create(spec);
      await driver.start(spec, output); // the first heartbeat is answered, then the vCPU spins
      await assertRejects(() => driver.health(spec, 300), A3sError, "did not answer");
      const vcpuBusy = await driver.stats(spec);
      assert((vcpuBusy.cpuSeconds ?? 0) >= 0);
      const ending = performance.now();
      if (how === "stop") await driver.stop(spec, 10);
      else await driver.kill(spec, 9);
      const took = performance.now() - ending;
      assert(took < 2000, `${how} took ${took.toFixed(0)} ms`);
      const state = await driver.state(spec);
      assertEquals(state.running, false);
      assertEquals(state.reason, how === "stop" ? "stopped" : "killed");
    } finally {
      await driver.remove(spec);
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("kvm driver: a guest that dies while booting fails start with the VMM's reason", {
  ignore: !kvmAvailable(),
}, async () => {
  const { dir, spec, output } = await boxDir();
  // ud2 with no IDT: the fault cannot be delivered, nor the double fault — a triple fault.
  const driver = new KvmDriver({
    guestProgram: { image: Uint8Array.of(0x0f, 0x0b), mode: "protected", entry: 0x100000 },
    bootTimeoutMs: 30_000,
  });
  try {
    await driver.create(spec);
    const error = await assertRejects(() => driver.start(spec, output), A3sError);
    assertEquals(error.code, "box_start_failed");
    assert(error.message.includes("triple_fault"), error.message);
    const state = await driver.state(spec);
    assertEquals([state.running, state.exitCode], [false, 1]);

    // Bounded too, the VMM's console and its messages reach vm.log through the log keeper,
    // and nothing of them the box's own stdout and stderr.
    const bounded = { ...output, logBound: { maxSize: 4096, maxFiles: 2 } };
    const vmLog = join(spec.stateDir, "vm.log");
    for (const path of [output.stdoutPath, output.stderrPath, vmLog]) {
      await Deno.remove(path).catch(() => {});
    }
    const again = await assertRejects(() => driver.start(spec, bounded), A3sError);
    assert(again.message.includes("triple_fault"), again.message);
    await awaitLogKeeper(output.stdoutPath);
    assert((await Deno.readTextFile(vmLog)).includes("[a3s vmm: the guest failed"));
    for (const path of [output.stdoutPath, output.stderrPath]) {
      assertEquals(await Deno.readTextFile(path).catch(() => ""), "");
    }
  } finally {
    await driver.remove(spec);
    await Deno.remove(dir, { recursive: true });
  }
});
