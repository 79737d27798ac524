/** The state dir made ahead: taken once, offered once per boxes dir, never for another layout. */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { prepareStateDirAhead, STATE_SUBDIRS, takeStateDirAhead } from "./_state_dir_ahead.ts";

const V1 = JSON.stringify({ overlay: true, cgroup: "v1" });
const V2 = JSON.stringify({ overlay: true, cgroup: "v2", cgroupRoot: "/tmp/x/cg" });

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("state dir ahead: made once, taken once, then made again; one per layout", () => {
  const boxes = Deno.makeTempDirSync({ prefix: "a3s-ahead" });
  try {
    assert(!takeStateDirAhead(join(boxes, "aaaaaaaaaaaa"), V1), "nothing was made ahead yet");
    prepareStateDirAhead(boxes, V1);
    prepareStateDirAhead(boxes, V1); // a second offer (another process) leaves the first
    assertEquals(names(boxes).length, 1);
    assert(!takeStateDirAhead(join(boxes, "bbbbbbbbbbbb"), V2), "another layout's dir");
    assert(takeStateDirAhead(join(boxes, "cccccccccccc"), V1));
    assertEquals(names(boxes), ["cccccccccccc"]);
    assertEquals(names(join(boxes, "cccccccccccc")), [...STATE_SUBDIRS, "layout.json"].sort());
    assertEquals(Deno.readTextFileSync(join(boxes, "cccccccccccc", "layout.json")), V1);
    for (const dir of STATE_SUBDIRS) {
      assertEquals(names(join(boxes, "cccccccccccc", dir)), []);
    }
    assert(!takeStateDirAhead(join(boxes, "dddddddddddd"), V1), "taken already");
    // A state dir that exists is never replaced by the one made ahead.
    prepareStateDirAhead(boxes, V1);
    Deno.writeTextFileSync(join(boxes, "cccccccccccc", "run", "mine"), "x");
    assert(!takeStateDirAhead(join(boxes, "cccccccccccc"), V1));
    assertEquals(names(join(boxes, "cccccccccccc", "run")), ["mine"]);
    prepareStateDirAhead(boxes, V2);
    assertEquals(names(boxes).filter((n) => n.startsWith(".ahead-")).length, 2);
    assertEquals(names(boxes).filter((n) => n.startsWith(".draft-")), []);
  } finally {
    Deno.removeSync(boxes, { recursive: true });
  }
});

Deno.test("state dir ahead: a boxes dir that cannot be written is no error", () => {
  prepareStateDirAhead("/proc/self/a3s-no-such-dir", V1);
  assert(!takeStateDirAhead("/proc/self/a3s-no-such-dir/aaaaaaaaaaaa", V1));
});
