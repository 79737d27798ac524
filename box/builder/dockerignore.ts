/**
 * `.dockerignore`: which build-context paths a build never sees. Patterns use Go's
 * `filepath.Match` syntax plus `**` (any number of directories); a leading `!` re-includes; the
 * last matching pattern wins; a directory's pattern covers everything under it.
 */

interface IgnoreRule {
  pattern: RegExp;
  negate: boolean;
}

function clean(path: string): string {
  return path.split("/").filter((p) => p !== "" && p !== ".").join("/");
}

function toRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      // `**/` matches zero or more directories; a trailing `**` matches everything.
      if (pattern[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) out += `\\${pattern[++i]}`;
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        out += `[${pattern.slice(i + 1, end).replace(/^!/, "^")}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}(?:/.*)?$`);
}

/** A parsed `.dockerignore`. */
export class DockerIgnore {
  readonly #rules: IgnoreRule[];

  /** Parses a `.dockerignore`'s text: one pattern a line, `!` re-includes, `#` comments. */
  constructor(text: string) {
    this.#rules = [];
    for (const line of text.split("\n")) {
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      const negate = trimmed.startsWith("!");
      const pattern = clean(negate ? trimmed.slice(1).trim() : trimmed);
      if (pattern === "") continue;
      this.#rules.push({ pattern: toRegExp(pattern), negate });
    }
  }

  /** Reads `<context>/.dockerignore`; no file ignores nothing. */
  static async load(contextDir: string): Promise<DockerIgnore> {
    const text = await Deno.readTextFile(`${contextDir}/.dockerignore`).catch(() => "");
    return new DockerIgnore(text);
  }

  /** Whether a context-relative path is left out of the build. */
  ignores(path: string): boolean {
    const target = clean(path);
    let ignored = false;
    for (const rule of this.#rules) if (rule.pattern.test(target)) ignored = !rule.negate;
    return ignored;
  }
}
