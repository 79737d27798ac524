/**
 * The qemu driver on real QEMU (TCG here): one VM boots Debian's kernel with the busybox image
 * as its initramfs; exec, copy, logs, and a VM killed under a running exec, which must end the
 * exec with an error rather than hang. One boot keeps the test bounded.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { addBusybox, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { QemuDriver } from "./qemu.ts";
import { AgentClosedError } from "../agent/client.ts";
import { join } from "node:path";

Deno.test({
  name: "qemu: boot, main output, exec, copy, and a killed VM ends the exec with an error",
  async fn() {
    const home = await testHome();
    const driver = new QemuDriver({
      agentCacheDir: "/tmp/a3s-box-test-agent",
      workDir: join(home.home, "qemu"),
      bootTimeoutMs: 120_000,
    });
    const probe = await driver.probe();
    if (!probe.available) {
      console.log(`SKIPPED: qemu driver unavailable: ${probe.detail}`);
      await home.close();
      return;
    }
    const boxes = await BoxManager.open({
      store: home.store,
      images: home.images,
      home: home.home,
      drivers: [driver],
    });
    try {
      await addBusybox(home.images);
      const { info } = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", "echo booted $(uname -r); sleep 600"],
        driver: "qemu",
        timeoutSeconds: 300,
      });
      assertEquals([info.state, info.driver], ["running", "qemu"]);
      // The agent answers before its main command has printed; give the guest a moment.
      let logs = "";
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        logs = "";
        for await (const chunk of boxes.logs(info.id)) logs += new TextDecoder().decode(chunk.data);
        if (/booted \d+\.\d+/.test(logs)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(/booted \d+\.\d+/.test(logs), logs);

      const process = await boxes.exec(info.id, {
        command: ["sh", "-c", "cat; echo e >&2; exit 6"],
      });
      const writer = process.stdin.getWriter();
      await writer.write(new TextEncoder().encode("into the vm"));
      await writer.close();
      assertEquals(await new Response(process.stdout).text(), "into the vm");
      assertEquals(await new Response(process.stderr).text(), "e\n");
      assertEquals((await process.status).exitCode, 6);

      await boxes.copyIn(info.id, new TextEncoder().encode("vm file"), "/tmp/f");
      assertEquals(new TextDecoder().decode(await boxes.copyOut(info.id, "/tmp/f")), "vm file");

      const hanging = await boxes.exec(info.id, { command: ["sleep", "300"] });
      await hanging.stdin.close();
      const pid = JSON.parse(
        await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
      ).pid;
      const killedAt = performance.now();
      Deno.kill(pid, "SIGKILL");
      await assertRejects(() => hanging.status, AgentClosedError);
      assert(performance.now() - killedAt < 5000, "the exec ended promptly");
      const after = await boxes.wait(info.id);
      assertEquals([after.state, after.reason], ["exited", "killed"]);
    } finally {
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      boxes.close();
      await home.close();
    }
  },
});
