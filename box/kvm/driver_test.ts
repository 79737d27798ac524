import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { KvmDriver } from "./driver.ts";
import { probeKvm } from "./probe.ts";
import { kvmAvailable } from "./_test_support.ts";

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
  await assertRejects(() => driver.start(), A3sError, "cannot run boxes here");
  assert(performance.now() - started < 2000);
  assertEquals((await driver.state()).running, false);
});
