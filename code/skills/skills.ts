/**
 * Skills: folders with a `SKILL.md` (YAML front matter, then instructions) and resources,
 * compatible with Claude Code's. Only names and descriptions sit in context; `load_skill`
 * reads the body and lists the resources beside it.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

/** One discovered skill. */
export interface Skill {
  /** The skill's name, from `SKILL.md`'s front matter; `load_skill` takes it. */
  name: string;
  /** When to use the skill, for the model choosing one. */
  description: string;
  /** Tools the skill is meant to use (`allowed-tools`), informational for the model. */
  allowedTools: string[];
  /** The `SKILL.md` path. */
  path: string;
  /** True for the skills shipped with the module. */
  builtin: boolean;
}

/** Splits `---\nyaml\n---\nbody` into its parts. */
export function parseFrontMatter(text: string): { meta: Record<string, unknown>; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!m) return { meta: {}, body: text };
  const meta = parseYaml(m[1]);
  return {
    meta: meta && typeof meta === "object" ? meta as Record<string, unknown> : {},
    body: m[2],
  };
}

/** The skills shipped with the module. */
export const BUILTIN_SKILLS_DIR: string = fileURLToPath(new URL("./builtin/", import.meta.url));

async function findSkillFiles(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isFile && e.name === "SKILL.md") out.push(join(dir, e.name));
    else if (e.isDirectory && depth < 3 && !e.name.startsWith(".") && e.name !== "node_modules") {
      out.push(...await findSkillFiles(join(dir, e.name), depth + 1));
    }
  }
  return out;
}

function toList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(/[,\s]+/).filter(Boolean);
  return [];
}

/**
 * The skills an agent can load.
 *
 * @example
 * ```ts
 * import { SkillRegistry } from "./skills.ts";
 * const skills = await SkillRegistry.discover([], true);
 * console.log(skills.list().map((s) => s.name));
 * ```
 */
export class SkillRegistry {
  readonly #skills = new Map<string, Skill>();

  /** Reads every `SKILL.md` under `dirs` (later folders override earlier and built-ins). */
  static async discover(dirs: readonly string[], builtin: boolean): Promise<SkillRegistry> {
    const registry = new SkillRegistry();
    const roots = [...(builtin ? [BUILTIN_SKILLS_DIR] : []), ...dirs];
    for (const root of roots) {
      for (const file of await findSkillFiles(root)) {
        const { meta } = parseFrontMatter(await Deno.readTextFile(file));
        const name = String(meta.name ?? dirname(file).split("/").pop());
        registry.#skills.set(name, {
          name,
          description: String(meta.description ?? "").trim(),
          allowedTools: toList(meta["allowed-tools"] ?? meta.allowed_tools),
          path: file,
          builtin: root === BUILTIN_SKILLS_DIR,
        });
      }
    }
    return registry;
  }

  /** Every discovered skill. */
  list(): Skill[] {
    return [...this.#skills.values()];
  }

  /** The skill named `name`, if there is one. */
  get(name: string): Skill | undefined {
    return this.#skills.get(name);
  }

  /** The skill's instructions, with its resource files listed so the model can read them. */
  async load(name: string): Promise<string | undefined> {
    const skill = this.#skills.get(name);
    if (!skill) return undefined;
    const { body } = parseFrontMatter(await Deno.readTextFile(skill.path));
    const dir = dirname(skill.path);
    const resources: string[] = [];
    const walk = (d: string) => {
      for (const e of Deno.readDirSync(d)) {
        const p = join(d, e.name);
        if (e.isDirectory) walk(p);
        else if (p !== skill.path) resources.push(relative(dir, p));
      }
    };
    walk(dir);
    const tools = skill.allowedTools.length
      ? `\nAllowed tools: ${skill.allowedTools.join(", ")}`
      : "";
    const files = resources.length
      ? `\nResources in ${dir}:\n${resources.sort().map((r) => `- ${r}`).join("\n")}`
      : "";
    return `# Skill: ${skill.name}\n${body.trim()}\n${tools}${files}`.trim();
  }
}
