/**
 * A starter killed between a box's start and its row: starts a detached box through the
 * namespace driver the way `run` does before it writes the row, never writes the row, prints
 * the home's path and the box's id, and waits to be killed. `abandoned_box_test.ts` checks that
 * the next manager removes the box once this process is gone, and leaves it while it lives.
 */
import { join } from "node:path";
import { openNamespaceBoxes } from "../_test_support.ts";

const { home, driver } = await openNamespaceBoxes();
const id = Array.from(
  crypto.getRandomValues(new Uint8Array(32)),
  (b) => b.toString(16).padStart(2, "0"),
)
  .join("");
const stateDir = join(home.home, "box", "boxes", id.slice(0, 12));
const spec = {
  id,
  rootfs: await home.images.rootfs((await home.images.resolve("busybox", "image")).id),
  stateDir,
  command: ["sleep", "60"],
  env: {},
  volumes: [],
  limits: { pids: 32 },
  network: "none" as const,
};
await driver.create(spec);
await driver.start(spec, {
  stdoutPath: join(stateDir, "stdout.log"),
  stderrPath: join(stateDir, "stderr.log"),
});
console.log(`${home.home} ${id}`);
await new Promise(() => {});
