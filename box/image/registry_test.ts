import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { addBusybox, startRegistry, testHome } from "../_test_support.ts";
import { RegistryClient } from "./registry.ts";
import { ImageStore } from "./store.ts";
import { join } from "node:path";

Deno.test("push to and pull from a real registry, with digests verified", async () => {
  const registry = await startRegistry();
  if (!registry) return;
  const source = await testHome();
  const target = await testHome();
  try {
    const id = await addBusybox(source.images);
    const pushed = await new RegistryClient(source.images).push(
      "busybox:latest",
      `${registry.host}/tools/busybox:1`,
    );
    assertEquals(pushed, id);

    const pulled = await new RegistryClient(target.images).pull(`${registry.host}/tools/busybox:1`);
    assertEquals(pulled, id);
    const listed = await target.images.list();
    assertEquals(listed[0].repoTags, [`${registry.host}/tools/busybox:1`]);
    const rootfs = await target.images.rootfs(id);
    assert((await Deno.lstat(join(rootfs, "bin/busybox"))).isFile);
    assertEquals(await Deno.readLink(join(rootfs, "bin/sh")), "/bin/busybox");

    // By digest, too.
    const byDigest = await new RegistryClient(target.images).pull(
      `${registry.host}/tools/busybox@${id}`,
    );
    assertEquals(byDigest, id);
    await assertRejects(
      () => new RegistryClient(target.images).pull(`${registry.host}/tools/absent:1`),
      Error,
      "not found",
    );
  } finally {
    await source.close();
    await target.close();
    await registry.close();
  }
});

Deno.test("a pulled blob whose bytes do not match its digest is refused", async () => {
  const home = await testHome();
  try {
    const images = await ImageStore.open(home.store, join(home.home, "other"));
    await assertRejects(
      () => images.putBlob(new Uint8Array([1, 2, 3]), `sha256:${"0".repeat(64)}`),
      Error,
      "does not match",
    );
  } finally {
    await home.close();
  }
});
