import { assert } from "./_assert.ts";
import { openStore } from "./store.ts";

Deno.test("committed SQLite writes survive kill -9", async () => {
  const home = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./testdata/store_writer.ts", import.meta.url).pathname, home],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let acknowledged = -1;
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of child.stdout) {
    pending += decoder.decode(chunk);
    const lines = pending.split("\n");
    pending = lines.pop()!;
    if (lines.length) acknowledged = Number(lines.at(-1));
    if (acknowledged >= 300) break;
  }
  child.kill("SIGKILL");
  await child.status;

  const store = await openStore({ home });
  const rows = await store.db<{ events: { id: number } }>().selectFrom("events").select("id")
    .execute();
  const ids = new Set(rows.map((r) => Number(r.id)));
  for (let id = 0; id <= acknowledged; id++) assert(ids.has(id), `committed row ${id} was lost`);
  await store.close();
  await Deno.remove(home, { recursive: true });
});
