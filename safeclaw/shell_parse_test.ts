import { assertEquals } from "@a3s/common/testing";
import { parseShell, type SimpleCommand } from "./shell_parse.ts";

/** Each command's words, a dynamic one in braces, with its input and redirects when it has them. */
function shown(commands: SimpleCommand[]) {
  return commands.map((c) => {
    const words = c.words.map((w) => (w.dynamic ? `{${w.text}}` : w.text)).join(" ");
    const input = c.stdin?.from === "text"
      ? ` <<${JSON.stringify(c.stdin.text)}`
      : c.stdin?.from === "pipe"
      ? " <|"
      : "";
    const redirects = c.redirects.map((r) => ` >${r.text}`).join("");
    return words + input + redirects;
  });
}

Deno.test("parseShell: quotes are removed and joined, $'…' decoded, escapes dropped", () => {
  assertEquals(shown(parseShell(`c'u'rl w"g"et n\\c $'\\x63\\x75\\x72\\x6c' "a b" 'c d'`)), [
    "curl wget nc curl a b c d",
  ]);
  assertEquals(shown(parseShell(`echo "say \\"hi\\" \\$HOME" '$HOME'`)), [
    `echo say "hi" $HOME $HOME`,
  ]);
});

Deno.test("parseShell: expansions, substitutions, globs and brace lists are dynamic; substitutions are read as commands", () => {
  assertEquals(shown(parseShell(`$C -d x; $(echo curl) y; cu?l; {curl,-d}; a\${IFS}b; [ -f x ]`)), [
    "{$C} -d x",
    "echo curl",
    "{$(echo curl)} y",
    "{cu?l}",
    "{{curl,-d}}",
    "{a${IFS}b}",
    "[ -f x ]",
  ]);
  assertEquals(shown(parseShell("echo `curl a.example`; cat <(wget b.example)")), [
    "curl a.example",
    "echo {`curl a.example`}",
    "wget b.example",
    "cat {/dev/fd/63}",
  ]);
});

Deno.test("parseShell: separators, groups, pipes, redirects, here-documents and comments", () => {
  assertEquals(
    shown(
      parseShell(
        `{ a; } && (b || c) | d 2>&1 >out.txt; e < in.txt # f g\nh <<'EOF'\nbody $X\nEOF\ni <<< word`,
      ),
    ),
    ["a", "b", "c", "d <| >out.txt", "e >in.txt", `h <<"body $X"`, `i <<"word"`],
  );
  assertEquals(parseShell("a | b")[1].stdin, { from: "pipe" });
  assertEquals(parseShell("cat <<-END\n\tx\n\tEND\nls").map((c) => c.words[0].text), ["cat", "ls"]);
});
