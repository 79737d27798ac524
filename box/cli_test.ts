/** The box CLI against a real data dir: exit codes, one-line errors, JSON output, shared state. */
import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { main } from "./cli.ts";
import { openBoxRuntime } from "./runtime.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

async function capture(
  args: string[],
  home: string,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...values: unknown[]) => out.push(values.join(" "));
  console.error = (...values: unknown[]) => err.push(values.join(" "));
  try {
    // The data dir goes first: after `run`'s IMAGE every word belongs to the command.
    const [command, ...rest] = args;
    const code = await main([command, "--home", home, ...rest]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** `run` streams the box's output to the process's own stdout, so it runs as a subprocess. */
async function runCli(args: string[], home: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
    env: { A3S_HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    out: new TextDecoder().decode(output.stdout),
    err: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("box CLI: run exit codes, usage errors, shared state, save and load", async () => {
  const home = await makeTestHomeDir("a3sbc");
  try {
    assertEquals((await capture(["import-busybox"], home)).code, 0);

    const run = await runCli([
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      "echo out; echo err >&2; exit 3",
    ], home);
    assertEquals([run.code, run.out, run.err], [3, "out\n", "err\n"]);

    // Bad usage exits 2; a well-formed command naming something that does not exist exits 1,
    // as Docker's "No such object" does.
    for (
      const [args, message, code] of [
        [["run", "-v", "/nope", "busybox"], "invalid volume", 2],
        [["run", "--memory", "lots", "busybox"], "invalid --memory", 2],
        [["run", "--network", "bridge", "busybox"], "no such network: bridge", 2],
        [["run", "--network", "../x", "busybox"], "invalid --network", 2],
        [["run", "nosuch:1"], "no such image", 2],
        [["run", "--driver", "warp", "busybox"], "unknown driver", 2],
        [["ps", "--format", "yaml"], "--format must be json or table", 2],
        [["frobnicate"], "unknown command", 2],
      ] as const
    ) {
      const result = await capture([...args], home);
      assertEquals(result.code, code, `${args.join(" ")}: ${result.err}`);
      assert(result.err.includes(message), result.err);
      assertEquals(result.err.split("\n").length, 1);
    }

    // A box another process made (serve, say) is in this CLI's list, and the reverse.
    const store = await openStore({ home });
    const boxes = await openBoxRuntime({ store, home });
    const { info } = await boxes.run({
      image: "busybox",
      name: "shared",
      command: ["sleep", "60"],
    });
    const ps = await capture(["ps", "--json"], home);
    assertEquals(JSON.parse(ps.out).map((b: { name: string }) => b.name), ["shared"]);
    const taken = await capture(["create", "--name", "shared", "busybox"], home);
    assertEquals(taken.code, 2);
    assert(taken.err.includes("already in use"), taken.err);
    assertEquals((await capture(["stop", "-t", "1", "shared"], home)).code, 0);
    assertEquals((await boxes.inspect(info.id)).state, "exited");
    assertEquals((await capture(["rm", "shared"], home)).code, 0);
    boxes.close();
    await store.close();

    const archive = `${home}/busybox.tar`;
    assertEquals((await capture(["save", "-o", archive, "busybox"], home)).code, 0);
    assertEquals((await capture(["rmi", "busybox"], home)).code, 0);
    assertEquals(JSON.parse((await capture(["images", "--json"], home)).out), []);
    const loaded = await capture(["load", "-i", archive], home);
    assertEquals(loaded.out, "Loaded image: busybox:latest");
    const images = JSON.parse((await capture(["images", "--json"], home)).out);
    assertEquals(images[0].repoTags, ["busybox:latest"]);
    const info2 = await capture(["info", "--json"], home);
    assertEquals(JSON.parse(info2.out).defaultDriver, "namespace");
  } finally {
    removeTestHome(home);
  }
});

Deno.test("box CLI: an attached run killed mid-output leaves its box running, and the logs whole", async () => {
  const home = await makeTestHomeDir("a3sbc");
  const store = await openStore({ home });
  const boxes = await openBoxRuntime({ store, home });
  try {
    assertEquals((await capture(["import-busybox"], home)).code, 0);
    const script = 'i=1; while [ $i -le 150 ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done';
    const cli = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./cli.ts", import.meta.url).pathname,
        "run",
        "--name",
        "orphan",
        "busybox",
        "sh",
        "-c",
        script,
      ],
      env: { A3S_HOME: home },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let seen = "";
    const decoder = new TextDecoder();
    const reader = cli.stdout.getReader();
    while (!seen.includes("line 5\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    cli.kill("SIGKILL");
    await cli.status;
    await reader.cancel();
    assert(seen.startsWith("line 1\nline 2\n"), seen);
    assertEquals((await boxes.inspect("orphan")).state, "running");
    const done = await boxes.wait("orphan");
    assertEquals([done.exitCode, done.reason], [0, "exited"]);
    let logged = "";
    for await (const chunk of boxes.logs("orphan")) logged += decoder.decode(chunk.data);
    const all = Array.from({ length: 150 }, (_, i) => `line ${i + 1}\n`).join("");
    assertEquals(logged, all);
    assert(all.startsWith(seen), "what the killed caller printed is a prefix of the logs");
    await boxes.remove("orphan", true);
  } finally {
    boxes.close();
    await store.close();
    removeTestHome(home);
  }
});

Deno.test("box CLI: inspect, ps and events show a command's secrets as their type", async () => {
  const home = await makeTestHomeDir("a3sbc");
  try {
    assertEquals((await capture(["import-busybox"], home)).code, 0);
    const store = await openStore({ home });
    const boxes = await openBoxRuntime({ store, home });
    await boxes.create({
      image: "busybox",
      name: "talker",
      command: ["sh", "-c", "echo password=hunter2correcthorse"],
    });
    boxes.close();
    await store.close();
    // One at a time: capture swaps the console.
    for (const args of [["inspect", "talker"], ["ps", "-a", "--json"], ["events"], ["audit"]]) {
      const { code, out, err } = await capture(args, home);
      assertEquals(code, 0, err);
      assert(!out.includes("hunter2"), out);
      assert(out.includes("password=[SECRET]"), out);
    }
    assertEquals((await capture(["rm", "talker"], home)).code, 0);
  } finally {
    removeTestHome(home);
  }
});
