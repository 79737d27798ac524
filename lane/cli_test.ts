import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { DurableLane } from "./durable_lane.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;

async function lane(
  home: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args, "--home", home],
    env: { A3S_LOG_LEVEL: "silent" },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout), err: decode(output.stderr) };
}

Deno.test("CLI: stats, ls, dlq ls, dlq retry and dlq purge on the data dir's store", async () => {
  const home = await Deno.makeTempDir({ prefix: "lane_cli_" });
  try {
    const store = await openStore({ home });
    const scheduler = await DurableLane.open({ store, pollMs: 10 });
    scheduler.handle("ok", () => "fine").handle("broken", () => {
      throw new Error("disk on fire");
    });
    const good = await scheduler.submit("s1", "query", { kind: "ok" });
    const bad = await scheduler.submit("s2", "skill", { kind: "broken" });
    await good.result;
    await bad.result.catch(() => {});
    await scheduler.close();
    await store.close();

    const stats = await lane(home, "stats", "--json");
    assertEquals(stats.code, 0, stats.err);
    const counts = JSON.parse(stats.out);
    assertEquals(counts.query.completed, 1);
    assertEquals(counts.skill.dead, 1);
    const table = await lane(home, "stats");
    assert(/^query\s+0\s+0\s+1\s+0\s+0$/m.test(table.out), table.out);

    const ls = await lane(home, "ls", "--session", "s1");
    assert(ls.out.includes(good.id) && !ls.out.includes(bad.id), ls.out);
    const dlq = await lane(home, "dlq", "ls");
    assert(dlq.out.includes(bad.id) && dlq.out.includes("disk on fire"), dlq.out);

    const inspected = await lane(home, "inspect", bad.id, "--format", "json");
    assertEquals(inspected.code, 0, inspected.err);
    const job = JSON.parse(inspected.out);
    assertEquals([job.id, job.state, job.errors[0].message], [bad.id, "dead", "disk on fire"]);
    assertEquals(JSON.parse((await lane(home, "inspect", bad.id, "--json")).out), job);
    const detail = (await lane(home, "inspect", bad.id, "--format", "table")).out;
    assert(
      /^STATE\s+dead$/m.test(detail) && /^1\s+Error\s+\S+\s+disk on fire$/m.test(detail),
      detail,
    );
    const listed = JSON.parse((await lane(home, "dlq", "ls", "--format", "json")).out);
    assertEquals(listed.map((j: { id: string }) => j.id), [bad.id]);

    const retried = await lane(home, "dlq", "retry", bad.id);
    assertEquals(retried.code, 0, retried.err);
    assert(retried.out.includes(`requeued ${bad.id}`));
    const queued = JSON.parse((await lane(home, "ls", "--state", "queued", "--json")).out);
    assertEquals(queued.map((j: { id: string }) => j.id), [bad.id]);

    const again = await openStore({ home });
    const worker = await DurableLane.open({ store: again, pollMs: 10 });
    worker.handle("broken", () => {
      throw new Error("still on fire");
    });
    await worker.handleOf(bad.id).result.catch(() => {});
    await worker.close();
    await again.close();
    const purged = await lane(home, "dlq", "purge");
    assertEquals(purged.out.trim(), "purged 1 dead job");
    assertEquals((await lane(home, "dlq", "ls")).out.trim(), "no jobs");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("CLI: bad usage exits 2 with one line", async () => {
  const home = await Deno.makeTempDir({ prefix: "lane_cli_" });
  try {
    for (
      const args of [
        [],
        ["frobnicate"],
        ["dlq", "retry"],
        ["ls", "--lane", "fast"],
        ["ls", "--state", "sleeping"],
        ["ls", "--limit", "x"],
        ["stats", "--bogus"],
        ["stats", "--format", "yaml"],
        ["ls", "--json", "--format", "table"],
        ["inspect"],
        ["inspect", "a", "b"],
      ]
    ) {
      const result = await lane(home, ...args);
      assertEquals(result.code, 2, `${args.join(" ")}: ${result.err}`);
      assertEquals(result.err.trim().split("\n").length, 1, result.err);
      assert(result.err.startsWith("error: "), result.err);
    }
    const missing = await lane(home, "dlq", "retry", "no-such-job");
    assertEquals(missing.code, 2);
    assert(missing.err.includes("no dead job"));
    const unknown = await lane(home, "inspect", "no-such-job");
    assertEquals(unknown.code, 2);
    assert(unknown.err.includes("job 'no-such-job' not found"), unknown.err);
    const help = await lane(home, "--help");
    assertEquals(help.code, 0);
    assert(help.out.includes("dlq retry ID"));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
