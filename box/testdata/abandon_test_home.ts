/**
 * A test process that is killed before its cleanup runs: opens a test home, starts a box on a
 * network the host joins, prints the home's path and waits to be killed. `_test_home_teardown_test.ts`
 * checks that the next test run sweeps what it left.
 */
import { openNamespaceBoxes } from "../_test_support.ts";

const { home, boxes } = await openNamespaceBoxes();
await boxes.networks.create("left", { hostAccess: true });
await boxes.run({ image: "busybox", name: "left", networks: ["left"], command: ["sleep", "600"] });
console.log(home.home);
await new Promise(() => {});
