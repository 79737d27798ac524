import { assert, assertEquals } from "@a3s/common/testing";

const CLI = new URL("./cli.ts", import.meta.url).pathname;

async function run(home: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { A3S_HOME: home, A3S_EVENT_URL: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("event CLI: pub, ls --json, sub --after --count, usage errors exit 2", async () => {
  const home = await Deno.makeTempDir({ prefix: "event_cli_" });
  try {
    const pub = await run(
      home,
      "pub",
      "demo.one",
      '{"n":1}',
      "--key",
      "k",
      "--header",
      "trace=abc",
    );
    assertEquals(pub.code, 0, pub.stderr);
    const published = JSON.parse(pub.stdout);
    assertEquals(published.subject, "demo.one");

    const ls = await run(home, "ls", "--json");
    assertEquals(JSON.parse(ls.stdout), [{ subject: "demo.one", events: 1 }]);
    const table = await run(home, "ls", "consumers");
    assertEquals(table.stdout.trim(), "no durable consumers");

    const sub = await run(home, "sub", "demo.*", "--after", "0", "--count", "1");
    assertEquals(sub.code, 0, sub.stderr);
    const event = JSON.parse(sub.stdout.trim());
    assertEquals(event.id, published.id);
    assertEquals(event.data, { n: 1 });
    assertEquals(event.trace, "abc");

    const bad = await run(home, "pub", "demo..x", "1");
    assertEquals(bad.code, 2);
    assertEquals(bad.stderr.trim().split("\n").length, 1);
    assert(bad.stderr.includes("subject"));
    const format = await run(home, "ls", "--format", "yaml");
    assertEquals(format.code, 2);
    const broker = await run(home, "ls", "--url", "redis://127.0.0.1:1");
    assertEquals(broker.code, 1);
    assertEquals(broker.stderr.trim().split("\n").length, 1, broker.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
