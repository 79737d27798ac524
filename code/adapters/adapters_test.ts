import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { addPath, defaultSearchConfig, SearchService } from "@a3s/search";
import { busyboxImage, openBoxRuntime } from "@a3s/box";
import { Agent } from "../agent/agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { searchFunction } from "./search.ts";
import { BoxSandbox } from "./box_sandbox.ts";

Deno.test("search adapter: web_search answers from search's local index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-search-" });
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  try {
    const service = await SearchService.open(store, defaultSearchConfig());
    await Deno.mkdir(`${dir}/docs`);
    await Deno.writeTextFile(
      `${dir}/docs/lanes.md`,
      "# Lanes\nPriority lanes schedule agent jobs with concurrency limits.\n",
    );
    await Deno.writeTextFile(
      `${dir}/docs/other.md`,
      "# Other\nNothing about scheduling here, only gardening tips.\n",
    );
    await addPath(service.index, `${dir}/docs`);
    const llm = new ScriptedProvider([{
      toolCalls: [{ name: "web_search", arguments: { query: "priority lanes concurrency" } }],
    }, { text: "ok" }]);
    const agent = await Agent.fromConfig({ workspace: `${dir}/ws`, default_model: "s/m" }, {
      providers: { s: llm },
      search: searchFunction(service, ["local"]),
    });
    await agent.session().send("find it");
    await agent.close();
    const result = llm.requests[1].messages.at(-1)!.content;
    assert(result.startsWith("1. Lanes"), result);
    assert(result.includes("lanes.md"), result);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("box adapter: bash runs inside a box of box's runtime with the workspace mounted", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3scb" });
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  const boxes = await openBoxRuntime({ store, home: dir });
  const ws = `${dir}/ws`;
  await Deno.mkdir(ws);
  const sandbox = new BoxSandbox(boxes, "busybox:latest", Deno.realPathSync(ws), false);
  try {
    const { layer, config } = await busyboxImage();
    await boxes.images.createImage([layer], config, ["busybox:latest"]);
    let first;
    try {
      first = await sandbox.run(
        "echo inside > made.txt && cat /etc/hostname >/dev/null; ls /bin | head -1",
        { cwd: Deno.realPathSync(ws), timeoutMs: 20_000 },
      );
    } catch (error) {
      console.log(`SKIPPED: box cannot start a box here: ${(error as Error).message}`);
      return;
    }
    assertEquals(first.exitCode, 0, first.stderr);
    assertEquals(await Deno.readTextFile(`${ws}/made.txt`), "inside\n");
    const slow = await sandbox.run("sleep 5", { cwd: Deno.realPathSync(ws), timeoutMs: 200 });
    assert(slow.timedOut);
  } finally {
    await sandbox.close();
    boxes.close();
    await store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
