/**
 * A manager that keeps a launcher prestarted and is killed while it waits: runs one box (so the
 * driver prestarts the next box's launcher), waits until that launcher is prepared, prints the
 * home's path and the launcher's pid, and waits to be killed.
 * `drivers/namespace_prestart_test.ts` checks that the launcher dies with it.
 */
import { openNamespaceBoxes } from "../_test_support.ts";
import { prestartedLaunchers } from "../drivers/namespace_prestart_test_support.ts";

const { home, boxes } = await openNamespaceBoxes({ prestart: true });
const { info } = await boxes.run({ image: "busybox", command: ["true"] });
await boxes.remove(info.id, true);
const [launcher] = await prestartedLaunchers(home.home);
console.log(`${home.home} ${launcher}`);
await new Promise(() => {});
