/**
 * How the shipped default model does as an agent: 20 small tool-using tasks with checkable
 * outcomes (a file with the right content, a command's output in the answer), run on power's
 * default model through the real agent loop, greedy. Prints each task and the total.
 *
 * The agent is configured as serve's built-in agent is for the default model (code/routes.ts):
 * a 2,048-token window, which gives it the short system prompt and compact tool schemas, and the
 * tools `read`, `write` and `bash`. These tasks, their file names, contents and commands are kept
 * out of the default model's training data (power/training/agent_dialogues.ts checks this).
 *
 *   deno run -A code/bench/default_model_eval.ts [--json] [--model DIR]
 *
 * `--model DIR` serves another model directory as `a3s-default` (a candidate before it ships).
 */
import { parseArgs } from "node:util";
import { createLogger, loadConfig, startServer } from "@a3s/common";
import { powerModule } from "@a3s/power/routes";
import { Agent } from "../mod.ts";

interface EvalTask {
  prompt: string;
  files?: Record<string, string>;
  /** True when the task's outcome is right. */
  check(answer: string, dir: string, toolOutputs: string[]): Promise<boolean> | boolean;
}

const fileIs = (name: string, want: string) => async (_a: string, dir: string) =>
  (await Deno.readTextFile(`${dir}/${name}`).catch(() => "")).trim() === want;
const answerHas = (want: string) => (answer: string) => answer.includes(want);

export const TASKS: EvalTask[] = [
  {
    prompt: "Show the contents of notes.txt.",
    files: { "notes.txt": "hello world" },
    check: answerHas("hello world"),
  },
  {
    prompt: "Read todo.txt for me.",
    files: { "todo.txt": "TODO: write tests" },
    check: answerHas("write tests"),
  },
  {
    prompt: "What does version.txt say?",
    files: { "version.txt": "version = 1.2.0" },
    check: answerHas("1.2.0"),
  },
  { prompt: "Open config.txt.", files: { "config.txt": "port = 8080" }, check: answerHas("8080") },
  {
    prompt: "Show the contents of data.json.",
    files: { "data.json": '{"name": "ada"}' },
    check: answerHas("ada"),
  },
  {
    prompt: "Read README.md for me.",
    files: { "README.md": "Remember to back up the database." },
    check: answerHas("back up"),
  },
  {
    prompt: "What does log.txt say?",
    files: { "log.txt": "error: disk full" },
    check: answerHas("disk full"),
  },
  { prompt: "Run `pwd`.", check: (a, dir) => a.includes(dir) },
  { prompt: "Run `echo agent-ok`.", check: answerHas("agent-ok") },
  {
    prompt: "Execute whoami and tell me the output.",
    check: (a) => a.includes(Deno.env.get("USER") ?? "root"),
  },
  { prompt: "Run `ls`.", files: { "alpha.txt": "a" }, check: answerHas("alpha.txt") },
  { prompt: "Run `cat notes.txt`.", files: { "notes.txt": "kiwi" }, check: answerHas("kiwi") },
  {
    prompt: "Run `wc -l lines.txt`.",
    files: { "lines.txt": "1\n2\n3\n" },
    check: answerHas("3 lines.txt"),
  },
  { prompt: "Execute uname -s and tell me the output.", check: answerHas("Linux") },
  { prompt: "Write hello to out.txt.", check: fileIs("out.txt", "hello") },
  { prompt: "Write the text 42 to result.txt.", check: fileIs("result.txt", "42") },
  { prompt: "Create a file named done.txt containing yes.", check: fileIs("done.txt", "yes") },
  { prompt: "Save 'ok' in the file status.txt.", check: fileIs("status.txt", "ok") },
  { prompt: "Write version = 2 to version.txt.", check: fileIs("version.txt", "version = 2") },
  { prompt: "Put the word apple in fruit.txt.", check: fileIs("fruit.txt", "apple") },
];

/** Runs the tasks against an OpenAI-compatible URL serving the default model. */
export async function runEval(baseUrl: string): Promise<{ passed: number; lines: string[] }> {
  const lines: string[] = [];
  let passed = 0;
  for (const [i, task] of TASKS.entries()) {
    const dir = await Deno.makeTempDir({ prefix: "a3s-code-eval-" });
    for (const [name, text] of Object.entries(task.files ?? {})) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const agent = await Agent.fromConfig({
      workspace: dir,
      default_model: "power/a3s-default",
      providers: [{
        name: "power",
        base_url: baseUrl,
        models: [{ id: "a3s-default", context_window: 2048, max_tokens: 128, temperature: 0 }],
      }],
      tools: { enabled: ["read", "write", "bash"] },
      max_steps: 3,
      box: { driver: "process" },
    });
    const outputs: string[] = [];
    let answer = "";
    for await (const e of agent.session().stream(task.prompt)) {
      if (e.type === "tool_end") outputs.push(`${e.tool}: ${e.output}`);
      if (e.type === "done") answer = e.result.text;
    }
    await agent.close();
    const ok = await task.check(answer, dir, outputs);
    if (ok) passed++;
    lines.push(
      `${ok ? "PASS" : "FAIL"} ${String(i + 1).padStart(2)}. ${task.prompt} | tools: ${
        outputs.map((o) => o.split("\n")[0].slice(0, 50)).join("; ") || "none"
      } | answer: ${answer.replaceAll("\n", " ").slice(0, 60)}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
  return { passed, lines };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean", default: false }, model: { type: "string" } },
  });
  const home = await Deno.makeTempDir({ prefix: "a3s-code-eval-home-" });
  const candidate = values.model
    ? { models: { "a3s-default": values.model }, noDefaultModel: true }
    : {};
  const server = await startServer({
    config: loadConfig({ flags: { port: 0, home }, env: {} }),
    modules: [powerModule(candidate)],
    logger: createLogger("silent"),
  });
  try {
    const { passed, lines } = await runEval(`${server.url}/v1`);
    if (values.json) console.log(JSON.stringify({ passed, total: TASKS.length, lines }));
    else {
      for (const line of lines) console.log(line);
      console.log(`default model: ${passed}/${TASKS.length} tasks complete`);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}
