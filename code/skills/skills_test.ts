import { assert, assertEquals } from "@a3s/common/testing";
import { SkillRegistry } from "./skills.ts";
import { loadSubagents, parseSubagentFile } from "../agent/subagents.ts";

Deno.test("skills: built-ins and configured folders; body and resources load on demand", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-skills-" });
  try {
    await Deno.mkdir(`${dir}/release/scripts`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/release/SKILL.md`,
      "---\nname: release\ndescription: Cut a release.\nallowed-tools: [bash, read]\n---\nRun scripts/tag.sh then push.\n",
    );
    await Deno.writeTextFile(`${dir}/release/scripts/tag.sh`, "git tag v1\n");
    const skills = await SkillRegistry.discover([dir], true);
    assertEquals(skills.list().map((s) => s.name).sort(), [
      "code-review",
      "find-bugs",
      "release",
      "write-tests",
    ]);
    assertEquals(skills.get("release")!.allowedTools, ["bash", "read"]);
    const body = (await skills.load("release"))!;
    assert(body.startsWith("# Skill: release\nRun scripts/tag.sh then push."), body);
    assert(body.includes("Allowed tools: bash, read") && body.includes("- scripts/tag.sh"), body);
    assertEquals(await skills.load("nope"), undefined);
    assertEquals((await SkillRegistry.discover([], false)).list(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("subagents: markdown and YAML files, config entries, built-ins; bad files named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-agents-" });
  try {
    await Deno.writeTextFile(
      `${dir}/reviewer.md`,
      "---\nname: reviewer\ndescription: Reviews diffs\ntools: read, grep\nmax-steps: 5\n---\nYou review code.\n",
    );
    await Deno.writeTextFile(
      `${dir}/tester.yaml`,
      "name: tester\ntools: [bash]\nprompt: You run tests.\n",
    );
    const agents = await loadSubagents([{
      name: "writer",
      description: "",
      max_steps: 3,
      prompt: "Write.",
    }], [dir]);
    assertEquals([...agents.keys()].sort(), [
      "explore",
      "general",
      "plan",
      "reviewer",
      "tester",
      "writer",
    ]);
    assertEquals(agents.get("reviewer"), {
      name: "reviewer",
      description: "Reviews diffs",
      model: undefined,
      tools: ["read", "grep"],
      maxSteps: 5,
      prompt: "You review code.",
      permissions: undefined,
    });
    assertEquals(agents.get("tester")!.tools, ["bash"]);
    let error = "";
    try {
      parseSubagentFile("---\nname: Bad Name\n---\nx", "bad.md");
    } catch (e) {
      error = (e as Error).message;
    }
    assert(error.startsWith("bad.md: name:"), error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
