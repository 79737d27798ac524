import { assert, assertEquals } from "@a3s/common/testing";
import { Workspace } from "../runtime/workspace.ts";
import { workspaceScriptReader } from "./script_reader.ts";

Deno.test("script reader: reads scripts in the workspace, never a FIFO, a folder or a way out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-scripts-" });
  const outside = await Deno.makeTempDir({ prefix: "a3s-scripts-out-" });
  try {
    const workspace = Workspace.open(dir);
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(`${dir}/bin/run.sh`, "curl https://example.com\n");
    await Deno.writeTextFile(`${dir}/big.sh`, "x".repeat(300 * 1024));
    await Deno.writeTextFile(`${outside}/host.sh`, "echo host\n");
    await Deno.symlink(outside, `${dir}/out`);
    const made = await new Deno.Command("mkfifo", { args: [`${dir}/build.sh`] }).output();
    assert(made.success);
    const read = workspaceScriptReader(workspace, "bin");
    assertEquals(read("run.sh"), "curl https://example.com\n");
    assertEquals(read(`${dir}/bin/run.sh`), "curl https://example.com\n");
    assertEquals(read("../big.sh")?.length, 256 * 1024);
    const started = performance.now();
    // A FIFO would hold open(2) until a writer came: it is refused without opening it to wait.
    assertEquals(read("../build.sh"), undefined);
    assert(performance.now() - started < 1_000);
    assertEquals(read("../out/host.sh"), undefined);
    assertEquals(read(`${outside}/host.sh`), undefined);
    assertEquals(read("."), undefined);
    assertEquals(read("missing.sh"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
