import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { HclSyntaxError, parseHcl } from "./hcl.ts";
import { ConfigError, parseAgentConfig } from "./load.ts";
import { REPEATED_BLOCKS } from "./schema.ts";

const SAMPLE = `# an agent
default_model = "power/a3s-default"
max_steps     = 8
system_prompt = <<-EOT
    You are careful.
      Indented line.
    EOT

providers {
  name    = "power"
  api_key = env("A3S_TEST_KEY")
  /* two models */
  models {
    id             = "a3s-default"
    context_window = 2048
  }
  models {
    id = "other"
  }
}

mcp "github" {
  command = "npx"
  args    = ["-y", "server-github",]
  env     = { TOKEN = "x", "A-B": "y" }
}

permissions {
  preset = "strict"
  allow  = ["bash(git *)", "read(src/**)"]
}
box { network = false }
`;

Deno.test("hcl: attributes, blocks, labels, heredoc, lists, objects, env()", () => {
  const doc = parseHcl(SAMPLE, {
    file: "agent.hcl",
    env: (n) => n === "A3S_TEST_KEY" ? "k-123" : undefined,
    repeatedBlocks: REPEATED_BLOCKS,
  });
  const v = doc.value as unknown as {
    default_model: string;
    max_steps: number;
    system_prompt: string;
    providers: { api_key: string; models: { id: string }[] }[];
    mcp: unknown[];
    box: unknown;
  };
  assertEquals(v.default_model, "power/a3s-default");
  assertEquals(v.max_steps, 8);
  assertEquals(v.system_prompt, "You are careful.\n  Indented line.\n");
  assertEquals(v.providers[0].api_key, "k-123");
  assertEquals(v.providers[0].models.map((m: { id: string }) => m.id), ["a3s-default", "other"]);
  assertEquals(v.mcp[0], {
    name: "github",
    command: "npx",
    args: ["-y", "server-github"],
    env: { TOKEN: "x", "A-B": "y" },
  });
  assertEquals(v.box, { network: false });
  assertEquals(doc.lines.get("providers.0.models.1.id"), 18);
  assertEquals(doc.lines.get("permissions.allow"), 30);
});

Deno.test("hcl: syntax errors name file and line", () => {
  const cases: [string, number, string][] = [
    ['a = "x\n', 1, "unterminated string"],
    ["a = 1\nb {\n  c = 2\n", 4, "missing '}'"],
    ["a = 1\na = 2\n", 2, "duplicate key 'a'"],
    ["box {}\nbox {}\n", 2, "may appear only once"],
    ["x = bare\n", 1, "strings need quotes"],
    ['k = env("NOPE_NOT_SET")\n', 1, "NOPE_NOT_SET is not set"],
    ["a = [1, 2\n", 2, "expected ',' or ']'"],
    ["a = 1 b = 2\n", 1, "expected a newline after 'a'"],
  ];
  for (const [src, line, text] of cases) {
    const error = assertThrows(
      () => parseHcl(src, { file: "f.hcl", env: () => undefined }),
      HclSyntaxError,
    );
    assertEquals(error.line, line, src);
    assert(error.message.startsWith(`f.hcl:${line}: `), error.message);
    assert(error.message.includes(text), `${error.message} lacks ${text}`);
  }
});

Deno.test("config: defaults make an empty file a working agent", () => {
  const config = parseAgentConfig("", "agent.hcl");
  assertEquals(config.default_model, "power/a3s-default");
  assertEquals(config.permissions.preset, "default");
  assertEquals(config.tools.output_limit, 16_000);
  assertEquals(config.safeclaw.taint, true);
  assertEquals(config.planning.max_concurrency, 4);
});

Deno.test("config: validation errors name file, line and key", () => {
  const error = assertThrows(
    () =>
      parseAgentConfig(
        'providers {\n  name = "p"\n  models {\n    id = "m"\n    context_window = -3\n  }\n}\n',
        "agent.hcl",
      ),
    ConfigError,
  );
  assertEquals(error.line, 5);
  assertEquals(error.key, "providers.0.models.0.context_window");
  assert(
    error.message.startsWith("agent.hcl:5: providers.0.models.0.context_window: "),
    error.message,
  );

  const bad = assertThrows(
    () => parseAgentConfig('permissions {\n  preset = "loose"\n}\n', "a.hcl"),
    ConfigError,
  );
  assertEquals([bad.line, bad.key], [2, "permissions.preset"]);
  const mcp = assertThrows(
    () => parseAgentConfig('mcp "x" {\n  transport = "http"\n}\n', "a.hcl"),
    ConfigError,
  );
  assertEquals([mcp.line, mcp.key], [2, "mcp.0.transport"]);
  const json = assertThrows(() => parseAgentConfig('{"max_steps": "many"}', "a.json"), ConfigError);
  assertEquals(json.key, "max_steps");
});
