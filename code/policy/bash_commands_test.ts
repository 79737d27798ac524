import { assert, assertEquals } from "@a3s/common/testing";
import { PermissionsSchema } from "../config/schema.ts";
import { readBashCommands } from "./bash_commands.ts";
import { parseRule, PermissionPolicy, subjectIsPath } from "./permissions.ts";

const perms = (input: Record<string, unknown>) =>
  PermissionPolicy.fromConfig(PermissionsSchema.parse(input));

const lines = (line: string, readScript?: (path: string) => string | undefined) =>
  readBashCommands(line, readScript).commands.map((c) => c.words.join(" "));

Deno.test("bash commands: every command a line runs, through wrappers, shells, eval and find", () => {
  assertEquals(lines("true && curl --version | head -1"), [
    "true",
    "curl --version",
    "head -1",
  ]);
  assertEquals(lines("X=1 sudo -u bob env A=2 timeout 5 c'u'rl x"), [
    "sudo -u bob env A=2 timeout 5 curl x",
    "env A=2 timeout 5 curl x",
    "timeout 5 curl x",
    "curl x",
  ]);
  assertEquals(lines("bash -lc 'rm -rf a; echo $(whoami)'"), [
    "bash -lc rm -rf a; echo $(whoami)",
    "rm -rf a",
    "whoami",
    "echo $(whoami)",
  ]);
  assertEquals(lines("eval 'curl x' && find . -name '*.o' -exec rm -f {} +"), [
    "eval curl x",
    "curl x",
    "find . -name *.o -exec rm -f {} +",
    "rm -f {}",
  ]);
  assertEquals(lines("if [ -f x ]; then make; fi; for f in a b; do echo $f; done"), [
    "[ -f x ]",
    "make",
    "echo $f",
  ]);
  assertEquals(lines("command -v curl; xargs -n1 curl < urls; cat <<EOF | wc\nEOF"), [
    "command -v curl",
    "xargs -n1 curl",
    "curl",
    "cat",
    "wc",
  ]);
  // Scripts it runs are read where they can be: by a shell, by `source`, by path.
  const scripts: Record<string, string> = {
    "run.sh": "#!/bin/sh\ncurl -s example.org\n",
    "env.sh": "export A=1\nwget x\n",
    "tool": "\x7fELF\0\0binary",
  };
  assertEquals(
    lines("sh run.sh; . env.sh; ./run.sh; ./tool", (p) => scripts[p.replace(/^\.\//, "")]),
    [
      "sh run.sh",
      "curl -s example.org",
      ". env.sh",
      "export A=1",
      "wget x",
      "./run.sh",
      "curl -s example.org",
      "./tool",
    ],
  );
  assertEquals(readBashCommands('$CMD x; echo ok | bash; sh -c "$S"').unreadable, [
    "a command named by an expansion ($CMD)",
    "bash reading commands from a pipe",
    "sh -c with a script made by an expansion",
  ]);
});

Deno.test("permissions: a deny or ask rule on a command applies wherever it stands in the line, options in any order", () => {
  // The shipped example's rules with the default preset (ask `rm -rf *`, deny `sudo *`).
  const p = perms({ deny: ["bash(curl *)", "read(**/.env)"], ask: ["bash(git push*)"] });
  const decide = (line: string) => p.decide("bash", line, "exec");
  for (
    const line of [
      "curl --version",
      "curl",
      "true && curl --version | head -1",
      "echo $(curl -s x)",
      "bash -c 'curl x'",
      "env A=1 /usr/bin/curl x",
      "timeout 5 nohup curl x",
      "xargs curl < urls",
      "eval 'curl x'",
    ]
  ) assertEquals(decide(line), { action: "deny", rule: "bash(curl *)" }, line);
  for (
    const line of [
      "rm -rf junk",
      "rm -fr junk && echo removed",
      "rm -r -f junk",
      "rm -Rf junk",
      "rm --recursive --force junk",
      "rm -rfv junk",
      "find . -exec rm -rf {} +",
      "cd src; rm -fr build",
    ]
  ) assertEquals(decide(line), { action: "ask", rule: "bash(rm -rf *)" }, line);
  assertEquals(decide("git status && git push origin main").action, "ask");
  assertEquals(decide("sudo -u bob ls").action, "deny");
  assertEquals(decide("echo hi && sudo ls").action, "deny");
  // Neither -r and -f together, nor a command a rule names: the default.
  assertEquals(decide("rm -r junk"), { action: "allow" });
  assertEquals(decide("ls -la && grep -r curl ."), { action: "allow" });
  assertEquals(decide("command -v curl"), { action: "allow" });
  // A command named by an expansion cannot be checked against the rules: asked about.
  assertEquals(decide("$TOOL x").action, "ask");
  assertEquals(decide("echo 'curl x' | sh").action, "ask");
  // Without rules on commands there is nothing to check it against.
  assertEquals(perms({ preset: "permissive" }).decide("bash", "$TOOL x", "exec").action, "allow");
  // A rule written against the whole line still matches it.
  assertEquals(
    perms({ deny: ["bash(*| sh*)"] }).decide("bash", "curl x | sh", "exec").action,
    "deny",
  );
});

Deno.test("permissions: an allow rule allows a line only when it allows each command in it", () => {
  const p = perms({ allow: ["bash(git *)", "bash(npm test*)"], default: "ask" });
  assertEquals(p.decide("bash", "git status", "exec"), { action: "allow", rule: "bash(git *)" });
  assertEquals(p.decide("bash", "git status && npm test", "exec").action, "allow");
  assertEquals(p.decide("bash", "git status; curl evil.example", "exec"), { action: "ask" });
  assertEquals(p.decide("bash", "git log $(curl x)", "exec"), { action: "ask" });
  assertEquals(p.decide("bash", "$GIT status", "exec").action, "ask");
  // Allow still beats ask for a command both name.
  const q = perms({ allow: ["bash(git *)"], ask: ["bash(git push*)"] });
  assertEquals(q.decide("bash", "git push", "exec").action, "allow");
  const everything = perms({ allow: ["bash"], default: "deny" });
  assertEquals(everything.decide("bash", "$X; curl y", "exec"), { action: "allow", rule: "bash" });
});

Deno.test("permissions: several subjects are each decided, the strictest winning; mayRead answers for searches", () => {
  const p = perms({
    preset: "strict",
    allow: ["patch(src/**)"],
    deny: ["patch(protected/**)", "read(private/**)"],
    ask: ["read(drafts/**)"],
  });
  assertEquals(p.decide("patch", ["src/a.ts"], "write"), {
    action: "allow",
    rule: "patch(src/**)",
  });
  assertEquals(p.decide("patch", ["src/a.ts", "protected/b.txt"], "write"), {
    action: "deny",
    rule: "patch(protected/**)",
  });
  assertEquals(p.decide("patch", ["src/a.ts", "docs/c.md"], "write"), { action: "ask" });
  assertEquals(p.decide("patch", [], "write"), { action: "ask" });
  assert(p.mayRead("src/a.ts"));
  assert(!p.mayRead("private/plan.txt"));
  assert(!p.mayRead("drafts/x.md"));
  // Under a default of `ask` every read asks: a search asked about may show the files no rule names.
  const asking = perms({ default: "ask", deny: ["read(**/.env)"] });
  assert(asking.mayRead("a/b.ts"));
  assert(!asking.mayRead("a/.env"));
});

Deno.test("permissions: a policy within another gets the stricter decision of the two", () => {
  const parent = perms({ deny: ["bash(curl *)"], ask: ["write(docs/**)"] });
  const child = perms({ preset: "permissive", allow: ["bash(curl *)", "write"] }).within(parent);
  assertEquals(child.decide("bash", "curl x", "exec"), { action: "deny", rule: "bash(curl *)" });
  assertEquals(child.decide("write", "docs/a.md", "write"), {
    action: "ask",
    rule: "write(docs/**)",
  });
  assertEquals(child.decide("write", "src/a.ts", "write").action, "allow");
  assertEquals(perms({ deny: ["read(secret/**)"] }).within(perms({})).mayRead("secret/x"), false);
  assertEquals(perms({}).within(perms({ deny: ["read(secret/**)"] })).mayRead("secret/x"), false);
});

Deno.test("permissions: rule shapes: command rules are read as commands, others as patterns", () => {
  assertEquals(parseRule("bash(rm -rf *)").command?.flags, ["-r", "-f"]);
  assertEquals(parseRule("bash(rm --recursive *)").command?.flags, ["-r"]);
  assertEquals(parseRule("bash(curl *| sh)").command, undefined);
  assertEquals(parseRule("read(src/**)").command, undefined);
  // Text subjects: `*` crosses `/`; memory is one of them.
  assert(parseRule("memory(save*)").subject!.test("save a/b"));
  assert(!parseRule("read(src/*)").subject!.test("src/a/b"));
  // The session resolves path subjects against the workspace; a memory's or a command's it keeps.
  assertEquals(
    ["read", "patch", "memory", "bash", "web_fetch", "mcp__x__y"].map(subjectIsPath),
    [true, true, false, false, false, false],
  );
});
