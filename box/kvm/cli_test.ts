/** `box run --driver kvm` where the probe says Linux cannot boot: one line, exit 2, at once. */
import { assert, assertEquals } from "@a3s/common/testing";
import { probeKvm } from "./probe.ts";

Deno.test("box run --driver kvm: fails at once with one clear line where Linux cannot boot", async () => {
  const probe = await probeKvm();
  if (probe.linuxBoot) {
    console.log("SKIPPED: this host boots Linux under KVM, so the refusal path does not apply");
    return;
  }
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3skc" });
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, ...args],
      env: { A3S_HOME: home },
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    assertEquals((await run(["import-busybox"])).code, 0);
    const started = performance.now();
    const result = await run(["run", "--driver", "kvm", "busybox", "true"]);
    const stderr = new TextDecoder().decode(result.stderr).trim();
    assertEquals(result.code, 2);
    assertEquals(stderr.split("\n").length, 1, stderr);
    assert(stderr.startsWith("error: driver kvm cannot run here"), stderr);
    assert(stderr.includes(probe.reason), stderr);
    assert(performance.now() - started < 30_000);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
