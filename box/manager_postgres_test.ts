/**
 * box's state in PostgreSQL, the store for users who outgrow one machine: the same manager, its
 * rows, its audit trail and a second manager on the same database, against a real server.
 */
import { join } from "node:path";
import { openStore } from "@a3s/common";
import { assert, assertEquals, createTestDatabase } from "@a3s/common/testing";
import { BoxManager } from "./manager.ts";
import { ImageStore } from "./image/store.ts";
import { NamespaceDriver } from "./drivers/namespace.ts";
import { addBusybox, TEST_AGENT_CACHE } from "./_test_support.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const decoder = new TextDecoder();

Deno.test({
  name: "box on PostgreSQL: run, exec, list from a second manager, audit, remove",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const database = await createTestDatabase("a3s_box");
    if (!database) return;
    const home = await makeTestHomeDir("a3sboxpg");
    const store = await openStore({ databaseUrl: database.url });
    const open = async () =>
      await BoxManager.open({
        store,
        images: await ImageStore.open(store, join(home, "images")),
        home,
        drivers: [new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })],
      });
    const boxes = await open();
    try {
      await addBusybox(boxes.images);
      const { info, output } = await boxes.run(
        { image: "busybox", command: ["sh", "-c", "echo hello; sleep 30"], name: "pg-box" },
        { attach: true },
      );
      let first = "";
      for await (const chunk of output!) {
        first += decoder.decode(chunk.data);
        if (first.includes("\n")) break;
      }
      assertEquals(first, "hello\n");

      const exec = await boxes.exec("pg-box", { command: ["uname", "-n"] });
      await exec.stdin.close();
      const [stdout, status] = await Promise.all([new Response(exec.stdout).text(), exec.status]);
      assertEquals([stdout.trim(), status.exitCode], [info.id.slice(0, 12), 0]);

      // Another process's view of the same database (a CLI beside `serve`).
      const other = await open();
      try {
        const listed = await other.list();
        assertEquals(listed.map((box) => [box.name, box.state]), [["pg-box", "running"]]);
        assertEquals((await other.inspect("pg-box")).image, "busybox");
      } finally {
        other.close();
      }

      // Each row written through the compiled inserts holds every column it was given.
      const trail = await boxes.events(info.id);
      assertEquals(trail.map((event) => event.action), ["create", "exec", "exec_exit"]);
      assertEquals(trail[0].detail.name, "pg-box");
      assertEquals(trail[1].detail.command, ["uname", "-n"]);
      assert(trail.every((event) => event.at > 0 && event.boxId === info.id));

      await boxes.remove("pg-box", true);
      assertEquals(await boxes.list({ all: true }), []);
      assertEquals((await boxes.events(info.id)).map((event) => event.action).at(-1), "delete");
    } finally {
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      boxes.close();
      await store.close();
      removeTestHome(home);
      await database.drop();
    }
  },
});
