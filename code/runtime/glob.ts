/** Glob patterns (`*`, `**`, `?`, `{a,b}`, `[abc]`) as regular expressions, for files and rules. */

/**
 * Compiles a glob. `*` and `?` stop at `/` when `pathMode` is on (file globs); in rule
 * subjects such as `bash(git *)` they match anything.
 *
 * @example
 * ```ts
 * import { globToRegExp } from "./glob.ts";
 * console.log(globToRegExp("src/**\/*.ts").test("src/a/b.ts")); // true
 * ```
 */
export function globToRegExp(glob: string, pathMode = true): RegExp {
  let re = "";
  let inClass = false;
  let braces = 0;
  const any = pathMode ? "[^/]*" : ".*";
  const one = pathMode ? "[^/]" : ".";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (inClass) {
      if (c === "]") inClass = false;
      re += c === "\\" ? "\\\\" : c;
      continue;
    }
    switch (c) {
      case "*":
        if (glob[i + 1] === "*") {
          // `**/` matches zero or more folders; a trailing `**` matches everything below.
          if (glob[i + 2] === "/") {
            re += "(?:.*/)?";
            i += 2;
          } else {
            re += ".*";
            i += 1;
          }
        } else re += any;
        break;
      case "?":
        re += one;
        break;
      case "[":
        inClass = true;
        re += glob[i + 1] === "!" ? (i++, "[^") : "[";
        break;
      case "{":
        braces++;
        re += "(?:";
        break;
      case "}":
        if (braces > 0) {
          braces--;
          re += ")";
        } else re += "\\}";
        break;
      case ",":
        re += braces > 0 ? "|" : ",";
        break;
      default:
        re += /[.+^$()|\\]/.test(c) ? `\\${c}` : c;
    }
  }
  return new RegExp(`^${re}$`, pathMode ? "" : "s");
}
