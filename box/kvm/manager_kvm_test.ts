/**
 * The kvm driver under the box manager (the same calls `box run`, `stop`, `stats` and `rm`
 * make), with the assembled echo agent standing in for Linux: a box is created, started, its
 * stats read, stopped at once, and removed; its state follows.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { BoxManager } from "../manager.ts";
import { addBusybox, testHome } from "../_test_support.ts";
import { KvmDriver } from "./driver.ts";
import { GUESTS } from "./testdata/guests.ts";
import { kvmAvailable } from "./_test_support.ts";

Deno.test({
  name: "kvm driver under the box manager: run, stats, stop, remove",
  ignore: !kvmAvailable(),
}, async () => {
  const home = await testHome();
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [
      new KvmDriver({
        guestProgram: { image: GUESTS.echo_agent, mode: "protected", entry: 0x100000 },
        bootTimeoutMs: 30_000,
      }),
    ],
  });
  await addBusybox(home.images);
  try {
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sleep", "60"],
      driver: "kvm",
      limits: { memoryBytes: 32 * 1024 * 1024 },
    });
    assertEquals([info.driver, info.state], ["kvm", "running"]);
    const stats = await boxes.stats(info.id);
    assertEquals(stats.memoryLimitBytes, 32 * 1024 * 1024);
    assert((stats.memoryBytes ?? 0) > 0);
    const stopping = performance.now();
    const stopped = await boxes.stop(info.id, 10);
    assert(performance.now() - stopping < 5000);
    assertEquals([stopped.state, stopped.exitCode, stopped.reason], ["exited", 143, "stopped"]);
    await boxes.remove(info.id);
    assertEquals((await boxes.list({ all: true })).length, 0);
  } finally {
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
    boxes.close();
    await home.close();
  }
});
