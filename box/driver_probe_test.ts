/**
 * What a host without a working driver is told: each driver names the package it lacks, the
 * error of a box that cannot run lists them, and the manager probes again until one works.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError, openStore } from "@a3s/common";
import { ImageStore } from "./image/store.ts";
import { BoxManager } from "./manager.ts";
import { NamespaceDriver } from "./drivers/namespace.ts";
import { QemuDriver } from "./drivers/qemu.ts";
import { addBusybox, TEST_AGENT_CACHE } from "./_test_support.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const MISSING = "/nonexistent/a3s-probe-test";

Deno.test("drivers whose program is missing say which package to install", async () => {
  const namespace = await new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE, bwrap: MISSING })
    .probe();
  assertEquals(namespace.available, false);
  assertEquals(namespace.detail, `${MISSING} not found (install bubblewrap)`);
  // Before, a missing QEMU threw as it spawned, and the probe read "probe failed: ...".
  const qemu = await new QemuDriver({
    agentCacheDir: TEST_AGENT_CACHE,
    workDir: "/tmp",
    qemu: MISSING,
  })
    .probe();
  assertEquals(qemu.available, false);
  assertEquals(qemu.detail, `${MISSING} not found (install qemu-system-x86)`);
});

Deno.test("with no driver working, a box's error names each driver's reason, and the host is probed again", async () => {
  const home = await makeTestHomeDir("a3sbprobe");
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const images = await ImageStore.open(store, join(home, "images"));
    await addBusybox(images);
    const boxes = await BoxManager.open({
      store,
      images,
      home,
      drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE, bwrap: MISSING })],
    });
    try {
      const error = await assertRejects(
        () => boxes.run({ image: "busybox", command: ["true"] }),
        A3sError,
      );
      assert(
        (error as Error).message.includes(`namespace: ${MISSING} not found (install bubblewrap)`),
        (error as Error).message,
      );
      // Not cached while nothing works: installing bubblewrap needs no restart.
      const first = boxes.info();
      await first;
      assert(boxes.info() !== first);
    } finally {
      boxes.close();
    }
  } finally {
    await store.close();
    removeTestHome(home);
  }
});
