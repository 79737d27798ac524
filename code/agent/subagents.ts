/**
 * Subagents: defined in config, in YAML or markdown files (front matter plus the prompt as
 * body), and three built-ins: `explore` (read-only search), `general` (every tool but `task`)
 * and `plan` (reads, then returns a step plan).
 */
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { PermissionsConfig, SubagentConfig } from "../config/schema.ts";
import { SubagentSchema } from "../config/schema.ts";
import { parseFrontMatter } from "../skills/skills.ts";

/** A subagent ready to run. */
export interface SubagentDefinition {
  /** The name the `task` tool picks the subagent by. */
  name: string;
  /** What the subagent is for; shown to the model choosing one. */
  description: string;
  /** `provider/model`; the parent's model when unset. */
  model?: string;
  /** Tools it may use; undefined means every tool but `task`. */
  tools?: string[];
  /** Model calls per task before the subagent stops. */
  maxSteps: number;
  /** The subagent's system prompt. */
  prompt: string;
  /** Overrides on the agent's permissions while this subagent runs. */
  permissions?: Partial<PermissionsConfig>;
}

const READ_ONLY = [
  "read",
  "grep",
  "glob",
  "ls",
  "codesearch",
  "memory",
  "load_skill",
  "search_skills",
];

/** The subagents every agent has, for the `task` tool: `explore` (read-only exploration), `general` (a self-contained task) and `plan` (an implementation plan, no changes); a configured subagent of the same name replaces one. */
export const BUILTIN_SUBAGENTS: readonly SubagentDefinition[] = [
  {
    name: "explore",
    description:
      "Fast read-only exploration: finds files, symbols and facts in the workspace and reports them.",
    tools: READ_ONLY,
    maxSteps: 12,
    prompt:
      "You explore a codebase to answer one question. Use ls, glob, grep, codesearch and read. Do not change anything. Finish with a short report: the answer, and the files and lines that show it.",
  },
  {
    name: "general",
    description: "General-purpose worker for a self-contained task: reads, edits, runs commands.",
    maxSteps: 20,
    prompt:
      "You carry out one self-contained task in the workspace with the tools you have. Work until it is done or clearly impossible, then finish with a short summary of what you did and what you found.",
  },
  {
    name: "plan",
    description: "Reads what it needs and returns a numbered implementation plan; changes nothing.",
    tools: [...READ_ONLY, "todo"],
    maxSteps: 10,
    prompt:
      "You plan work; you do not do it. Read what you need, then answer with a numbered list of concrete steps (files to change, commands to run, how to check the result), noting which steps depend on which.",
  },
];

function fromConfig(c: SubagentConfig): SubagentDefinition {
  return {
    name: c.name,
    description: c.description,
    model: c.model,
    tools: c.tools,
    maxSteps: c.max_steps,
    prompt: c.prompt,
    permissions: c.permissions,
  };
}

/** Parses one agent file: markdown with front matter (the body is the prompt) or YAML. */
export function parseSubagentFile(text: string, file: string): SubagentDefinition {
  let raw: Record<string, unknown>;
  if (file.endsWith(".md")) {
    const { meta, body } = parseFrontMatter(text);
    raw = { ...meta, prompt: meta.prompt ?? body.trim() };
  } else {
    raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
  }
  if (typeof raw.tools === "string") raw.tools = raw.tools.split(/[,\s]+/).filter(Boolean);
  if (raw["max-steps"] !== undefined) raw.max_steps = raw["max-steps"];
  delete raw["max-steps"];
  const parsed = SubagentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue.path.join(".") || "agent"}: ${issue.message}`);
  }
  return fromConfig(parsed.data);
}

/** Built-ins, then agent files in `dirs`, then config entries; later ones replace earlier. */
export async function loadSubagents(
  configured: SubagentConfig[],
  dirs: string[],
): Promise<Map<string, SubagentDefinition>> {
  const out = new Map(BUILTIN_SUBAGENTS.map((d) => [d.name, d]));
  for (const dir of dirs) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      throw new Error(`agent_dirs: cannot read ${dir}`);
    }
    for (const e of entries) {
      if (!e.isFile || !/\.(md|ya?ml)$/.test(e.name)) continue;
      const file = join(dir, e.name);
      const def = parseSubagentFile(await Deno.readTextFile(file), file);
      out.set(def.name, def);
    }
  }
  for (const c of configured) out.set(c.name, fromConfig(c));
  return out;
}
