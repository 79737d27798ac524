/**
 * Registry mirrors (`box cri --registry-mirror`): an image of a mirrored registry is fetched from
 * the mirror, a real local `docker-registry`, and known afterwards by the name the kubelet asked
 * for, as with containerd's mirrors.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { addBusybox, startRegistry, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { RegistryClient } from "../image/registry.ts";
import { CriRuntime } from "./cri_runtime.ts";

Deno.test({
  name: "cri: PullImage fetches a mirrored registry's image from the mirror, under its own name",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await testHome();
    const registry = await startRegistry();
    if (!registry) {
      await home.close();
      return;
    }
    const boxes = await BoxManager.open({
      store: home.store,
      images: home.images,
      home: home.home,
      drivers: [],
    });
    try {
      const staged = `${registry.host}/library/busybox:1.36`;
      await addBusybox(home.images, staged);
      await new RegistryClient(home.images).push(staged);
      await home.images.remove(staged, () => Promise.resolve(false));

      const cri = new CriRuntime(boxes, home.home, {
        registryMirrors: { "docker.io": `http://${registry.host}` },
      });
      const pulled = await cri.images.pullImage({
        image: { image: "docker.io/library/busybox:1.36" },
      });
      assert(String(pulled.image_ref).startsWith("sha256:"));
      const status = await cri.images.imageStatus({
        image: { image: "docker.io/library/busybox:1.36" },
      });
      assertEquals((status.image as { repo_tags: string[] }).repo_tags, ["busybox:1.36"]);
      // Only the asked-for name remains; the mirror's is dropped.
      const all = (await cri.images.listImages({})).images as { repo_tags: string[] }[];
      assertEquals(all.flatMap((i) => i.repo_tags), ["busybox:1.36"]);
      // A registry without a mirror is still fetched from itself (and here, unreachable).
      const direct = await cri.images.pullImage({ image: { image: "registry.invalid/app:1" } })
        .then(() => "pulled", (error: Error) => error.message);
      assert(direct.includes("registry.invalid"), direct);
    } finally {
      boxes.close();
      await registry.close();
      await home.close();
    }
  },
});
