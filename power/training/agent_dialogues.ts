/**
 * Training dialogues in the exact shape the code agent talks to power: the built-in agent's real
 * system prompt and (compact) tool schemas, its real tool results, rendered through the model's
 * own chat template the way power renders a request.
 *
 * Each dialogue is produced by running the real agent (`@a3s/code`, tools `read`, `write`,
 * `bash`, commands run as plain processes) against a scripted OpenAI-compatible server on a free
 * port. The script plays the model: it makes the call a task needs and answers from the tool's
 * real output, quoting it. The last request the agent sent, plus the scripted final reply, is
 * one training document.
 *
 * File names, contents, words and commands come from vocabularies of this file, chosen apart from
 * the agent eval (`code/bench/default_model_eval.ts`): none of the eval's prompts, file names,
 * file contents or commands is generated (checked before writing).
 *
 *   deno run -A power/training/agent_dialogues.ts --out FILE [--count 4000] [--seed 7]
 */
import { parseArgs } from "node:util";
import { Agent } from "@a3s/code";
import { type ChatMessage, renderChat, type ToolDefinition } from "../engine/chat_template.ts";

/** The context the built-in agent declares for the default model (code/routes.ts). */
const CONTEXT_WINDOW = 2048;

// ---------------------------------------------------------------------------------------------
// Seeded randomness

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  float(): number {
    return this.#next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabularies, disjoint from the eval's names, contents and commands

const WORDS: string[] = [
  "amber",
  "anchor",
  "badger",
  "banner",
  "basil",
  "beacon",
  "birch",
  "blossom",
  "breeze",
  "bridge",
  "cactus",
  "candle",
  "canyon",
  "carrot",
  "cedar",
  "cherry",
  "cinder",
  "clover",
  "cobalt",
  "comet",
  "copper",
  "coral",
  "cotton",
  "crystal",
  "dawn",
  "delta",
  "denim",
  "desert",
  "dolphin",
  "dragon",
  "ember",
  "falcon",
  "fern",
  "fig",
  "forest",
  "fossil",
  "garnet",
  "ginger",
  "glacier",
  "granite",
  "harbor",
  "hazel",
  "heron",
  "honey",
  "indigo",
  "iris",
  "island",
  "ivory",
  "jade",
  "jasmine",
  "jungle",
  "kettle",
  "lagoon",
  "lantern",
  "lemon",
  "lily",
  "lotus",
  "maple",
  "marble",
  "meadow",
  "melon",
  "meteor",
  "mint",
  "mango",
  "nectar",
  "nickel",
  "nutmeg",
  "oak",
  "ocean",
  "olive",
  "onyx",
  "orbit",
  "orchid",
  "otter",
  "panda",
  "parrot",
  "peach",
  "pebble",
  "pepper",
  "pine",
  "planet",
  "plum",
  "pond",
  "poppy",
  "prism",
  "quartz",
  "quill",
  "rabbit",
  "raven",
  "reef",
  "ribbon",
  "river",
  "robin",
  "ruby",
  "saffron",
  "sage",
  "salmon",
  "sand",
  "silver",
  "sparrow",
  "spruce",
  "summit",
  "sunset",
  "tango",
  "thunder",
  "tiger",
  "timber",
  "topaz",
  "tulip",
  "tundra",
  "velvet",
  "violet",
  "walnut",
  "willow",
  "winter",
  "zebra",
  "zephyr",
  "pumpkin",
  "rocket",
  "cobra",
];
const VERBS = ["check", "call", "send", "buy", "fix", "clean", "review", "update", "book", "pack"];
const KEYS = [
  "host",
  "mode",
  "level",
  "owner",
  "theme",
  "region",
  "timeout",
  "retries",
  "user",
  "color",
];
const STEMS: string[] = [
  "report",
  "draft",
  "plan",
  "summary",
  "list",
  "recipe",
  "budget",
  "inventory",
  "schedule",
  "ideas",
  "journal",
  "guide",
  "memo",
  "letter",
  "story",
  "poem",
  "tasks",
  "names",
  "scores",
  "prices",
  "words",
  "items",
  "hosts",
  "users",
  "settings",
  "message",
  "greeting",
  "answer",
  "output",
  "input",
  "record",
  "entry",
  "sample",
  "draft2",
  "backup",
  "status2",
  "reply",
  "quote",
  "motd",
  "banner",
  "colors",
  "animals",
  "cities",
  "fruits2",
  "tools",
  "steps",
  "events",
  "shopping",
];
const EXTENSIONS = [
  ".txt",
  ".txt",
  ".txt",
  ".md",
  ".json",
  ".log",
  ".csv",
  ".cfg",
  ".ini",
  ".yaml",
];

/** The eval's strings: never generated. */
const EVAL_FILES = new Set([
  "notes.txt",
  "todo.txt",
  "version.txt",
  "config.txt",
  "data.json",
  "README.md",
  "log.txt",
  "alpha.txt",
  "lines.txt",
  "out.txt",
  "result.txt",
  "done.txt",
  "status.txt",
  "fruit.txt",
]);
const EVAL_COMMANDS = new Set([
  "pwd",
  "echo agent-ok",
  "whoami",
  "ls",
  "cat notes.txt",
  "wc -l lines.txt",
  "uname -s",
]);
const EVAL_TEXTS = [
  "hello world",
  "TODO: write tests",
  "version = 1.2.0",
  "port = 8080",
  '{"name": "ada"}',
  "Remember to back up the database.",
  "error: disk full",
  "kiwi",
  "agent-ok",
  "hello",
  "42",
  "yes",
  "ok",
  "version = 2",
  "apple",
];

/** Words of the eval's names and contents, kept out of the corpus words below. */
const EVAL_WORDS = new Set([
  "notes",
  "todo",
  "version",
  "config",
  "data",
  "readme",
  "log",
  "alpha",
  "lines",
  "out",
  "result",
  "done",
  "status",
  "fruit",
  "hello",
  "world",
  "kiwi",
  "apple",
  "yes",
  "ok",
  "ada",
  "tests",
  "disk",
  "full",
  "database",
  "agent",
  "port",
  "name",
  "error",
  "remember",
  "back",
]);

/**
 * Adds the lowercase words of the prose corpus to the word and file-stem lists. A few dozen names
 * are learnt by heart; thousands leave the model no way but to copy them from the request, which
 * is what the agent needs for names it has never seen.
 */
export function addCorpusWords(text: string): number {
  const counts = new Map<string, number>();
  for (const word of text.match(/\b[a-z]{3,12}\b/g) ?? []) {
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const words = [...counts].filter(([w, n]) => n >= 3 && !EVAL_WORDS.has(w)).map(([w]) => w)
    .sort();
  WORDS.push(...words);
  STEMS.push(...words);
  return words.length;
}

function fileName(r: Rng, avoid: Set<string>): string {
  for (;;) {
    const stem = r.chance(0.15) ? `${r.pick(STEMS)}_${r.pick(STEMS)}` : r.pick(STEMS);
    const name = (r.chance(0.08) ? stem.toUpperCase() : stem) +
      (r.chance(0.2) ? `_${r.int(1, 99)}` : "") + r.pick(EXTENSIONS);
    if (!EVAL_FILES.has(name) && !avoid.has(name)) return name;
  }
}

function number(r: Rng): string {
  for (;;) {
    const n = String(r.chance(0.5) ? r.int(0, 99) : r.int(100, 99999));
    if (!EVAL_TEXTS.includes(n) && n !== "2" && n !== "3") return n;
  }
}

/** A short value to write: a word, a number, a key = value line, a short phrase. */
function shortText(r: Rng): string {
  const roll = r.float();
  if (roll < 0.3) return r.pick(WORDS);
  if (roll < 0.45) return number(r);
  if (roll < 0.6) return `${r.pick(KEYS)} = ${r.chance(0.5) ? r.pick(WORDS) : number(r)}`;
  if (roll < 0.72) return `${r.pick(WORDS)}-${r.pick(WORDS)}`;
  if (roll < 0.85) return `${r.pick(VERBS)} the ${r.pick(WORDS)}`;
  return `${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}`;
}

/** A file's content to read: one to four lines of notes, settings, JSON or log lines. */
function fileContent(r: Rng): string {
  const lines = r.int(1, r.chance(0.6) ? 1 : 4);
  const roll = r.float();
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    if (roll < 0.25) out.push(`${r.pick(KEYS)} = ${r.chance(0.5) ? r.pick(WORDS) : number(r)}`);
    else if (roll < 0.4) {
      out.push(`{"${r.pick(KEYS)}": "${r.pick(WORDS)}", "${r.pick(KEYS)}": ${number(r)}}`);
    } else if (roll < 0.55) {
      out.push(
        `${r.pick(["info", "warning", "note", "fatal"])}: ${r.pick(WORDS)} ${r.pick(WORDS)}`,
      );
    } else if (roll < 0.7) out.push(`${r.pick(VERBS)} the ${r.pick(WORDS)}`);
    else if (roll < 0.8) out.push(`${r.pick(WORDS)}`);
    else {
      const phrase = `${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}`;
      out.push(r.chance(0.5) ? phrase[0].toUpperCase() + phrase.slice(1) + "." : phrase);
    }
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Tasks: what the user asks, which call the script makes, and how it answers from the result

interface Task {
  prompt: string;
  /** Files the workspace holds before the task. */
  files: Record<string, string>;
  /** The one call the task needs, or none for a plain chat turn. */
  call?: { name: "read" | "write" | "bash"; arguments: Record<string, unknown> };
  /** The final answer, from the tool's real output. */
  answer(output: string): string;
}

const READ_PROMPTS = [
  "Show the contents of {f}.",
  "Read {f} for me.",
  "What does {f} say?",
  "Open {f}.",
  "What is in {f}?",
  "Print {f}.",
  "Can you read {f}?",
  "Show me {f}.",
  "Display the file {f}.",
  "Tell me what {f} contains.",
  "read {f}",
  "cat {f} please",
  "What's inside {f}?",
  "Please show {f}.",
  "Look at {f} and tell me what it says.",
];
const RUN_PROMPTS = [
  "Run `{c}`.",
  "Execute {c} and tell me the output.",
  "Please run {c}.",
  "What does `{c}` print?",
  "Run the command {c}.",
  "run {c}",
  "Execute `{c}`.",
  "Can you run `{c}` for me?",
  "Run {c} and show me the result.",
  "What is the output of `{c}`?",
];
const WRITE_PROMPTS = [
  "Write {x} to {f}.",
  "Write the text {x} to {f}.",
  "Create a file named {f} containing {x}.",
  "Save '{x}' in the file {f}.",
  "Put the word {x} in {f}.",
  "Put {x} into {f}.",
  "Make {f} with the text {x}.",
  "Store {x} in {f}.",
  'Write "{x}" to {f}.',
  "Create {f} with {x} in it.",
  "Save {x} to {f}.",
  "write {x} into {f}",
];
const CHAT = [
  ["Hi!", "Hello! Tell me what to do in this folder and I will use my tools to do it."],
  ["Hello", "Hello! What should I do?"],
  [
    "Who are you?",
    "I am an agent working in this folder. I can read and write files and run commands.",
  ],
  ["What can you do?", "I can read files, write files and run shell commands in this folder."],
  ["Thanks!", "You're welcome."],
  ["Thank you.", "You're welcome."],
  ["Good morning", "Good morning! What should I do?"],
];

function stripLineNumbers(output: string): string {
  return output.split("\n").map((line) => line.replace(/^\s*\d+\t/, "")).join("\n");
}

function bashStdout(output: string): { code: number; stdout: string; stderr: string } {
  const code = Number(/^exit code: (\d+)/.exec(output)?.[1] ?? 0);
  const stdout = /stdout:\n([\s\S]*?)(?:\nstderr:\n|$)/.exec(output)?.[1] ?? "";
  const stderr = /stderr:\n([\s\S]*)$/.exec(output)?.[1] ?? "";
  return { code, stdout, stderr };
}

function readTask(r: Rng): Task {
  const files: Record<string, string> = {};
  const f = fileName(r, new Set());
  files[f] = fileContent(r);
  for (let i = r.int(0, 2); i > 0; i--) {
    files[fileName(r, new Set(Object.keys(files)))] = fileContent(r);
  }
  const missing = r.chance(0.08);
  const target = missing ? fileName(r, new Set(Object.keys(files))) : f;
  return {
    prompt: r.pick(READ_PROMPTS).replace("{f}", target),
    files,
    call: { name: "read", arguments: { path: target } },
    answer: (output) => {
      if (output.startsWith("file not found")) return `There is no file named ${target}.`;
      const text = stripLineNumbers(output);
      const lead = r.pick([
        `${target} says:`,
        `${target} contains:`,
        `Here is ${target}:`,
        `The contents of ${target}:`,
      ]);
      return `${lead}\n${text}`;
    },
  };
}

function commandFor(r: Rng, files: Record<string, string>): string {
  const names = Object.keys(files);
  const f = names.length ? r.pick(names) : "";
  const options = [
    () =>
      `echo ${r.pick(WORDS)}-${r.pick(["ok", "done", "ready", "up", "set"])}`.replace(
        "-ok",
        "-fine",
      ),
    () => `echo ${r.pick(WORDS)} ${r.pick(WORDS)}`,
    () => `echo "${r.pick(VERBS)} the ${r.pick(WORDS)}"`,
    () => `expr ${r.int(2, 900)} + ${r.int(2, 900)}`,
    () => `expr ${r.int(2, 99)} \\* ${r.int(2, 99)}`,
    () => `seq ${r.int(2, 5)}`,
    () => `printf '%s\\n' ${r.pick(WORDS)} ${r.pick(WORDS)}`,
    () => `basename /${r.pick(WORDS)}/${r.pick(WORDS)}/${r.pick(STEMS)}.txt`,
    () => `dirname /srv/${r.pick(WORDS)}/${r.pick(STEMS)}.txt`,
    () => "date +%Y",
    () => "id -u",
    () => "nproc",
    () => "true && echo passed",
    () => `ls -1`,
    () => `ls *${r.pick([".txt", ".md", ".log"])}`,
    () => `ls -a`,
    () => f ? `cat ${f}` : `echo ${r.pick(WORDS)}`,
    () => f ? `cat ${f}` : `echo ${r.pick(WORDS)}`,
    () => f ? `wc -l ${f}` : `echo ${r.pick(WORDS)}`,
    () => f ? `wc -l ${f}` : `echo ${r.pick(WORDS)}`,
    () => f ? `wc -w ${f}` : "nproc",
    () => f ? `wc -c ${f}` : "nproc",
    () => f ? `head -n 1 ${f}` : "id -u",
    () => f ? `tail -n 1 ${f}` : "id -u",
    () => f ? `sort ${f}` : "seq 3",
    () => f ? `grep -c e ${f}` : "seq 2",
    () => `cat ${fileName(r, new Set(names))}`,
    () => `test -f ${f || "missing.txt"} && echo present || echo absent`,
    () => "echo $((7 * 6 + 1))",
    () => `mkdir -p ${r.pick(WORDS)} && echo made`,
  ];
  for (;;) {
    const command = r.pick(options)();
    if (!EVAL_COMMANDS.has(command) && !EVAL_TEXTS.some((t) => command.includes(t))) return command;
  }
}

function runTask(r: Rng): Task {
  const files: Record<string, string> = {};
  for (let i = r.int(0, 3); i > 0; i--) {
    files[fileName(r, new Set(Object.keys(files)))] = fileContent(r) + "\n";
  }
  const command = commandFor(r, files);
  return {
    prompt: r.pick(RUN_PROMPTS).replace("{c}", command),
    files,
    call: { name: "bash", arguments: { command } },
    answer: (output) => {
      const { code, stdout, stderr } = bashStdout(output);
      if (code !== 0) {
        return `\`${command}\` failed with exit code ${code}${stderr ? `:\n${stderr}` : "."}`;
      }
      if (!stdout) return `\`${command}\` ran and printed nothing.`;
      return `${
        r.pick([`\`${command}\` printed:`, "The output is:", "Output:", `${command} says:`])
      }\n${stdout}`;
    },
  };
}

function writeTask(r: Rng): Task {
  const files: Record<string, string> = {};
  for (let i = r.int(0, 2); i > 0; i--) {
    files[fileName(r, new Set(Object.keys(files)))] = fileContent(r);
  }
  const names = Object.keys(files);
  const f = names.length && r.chance(0.2) ? r.pick(names) : fileName(r, new Set(names));
  let text = shortText(r);
  const template = r.pick(WRITE_PROMPTS);
  if (template.includes("the word")) text = r.pick(WORDS);
  return {
    prompt: template.replace("{x}", text).replace("{f}", f),
    files,
    call: { name: "write", arguments: { path: f, content: text } },
    answer: () =>
      r.pick([
        `Wrote ${text} to ${f}.`,
        `Done: ${f} now contains ${text}.`,
        `Saved ${text} in ${f}.`,
      ]),
  };
}

function chatTask(r: Rng): Task {
  const [prompt, reply] = r.pick(CHAT);
  return { prompt, files: {}, answer: () => reply };
}

function task(r: Rng): Task {
  const roll = r.float();
  if (roll < 0.33) return readTask(r);
  if (roll < 0.66) return runTask(r);
  if (roll < 0.95) return writeTask(r);
  return chatTask(r);
}

// ---------------------------------------------------------------------------------------------
// The scripted model and the rendering

interface WireMessage {
  role: string;
  content: string | null | { type: string; text?: string }[];
  name?: string;
  tool_call_id?: string;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
}

interface WireRequest {
  messages: WireMessage[];
  tools?: ToolDefinition[];
}

/** The request as power's OpenAI endpoint turns it into chat messages (api/openai.ts). */
function messagesOf(body: WireRequest): ChatMessage[] {
  return body.messages.map((m) => ({
    role: (m.role === "developer" ? "system" : m.role) as ChatMessage["role"],
    content: typeof m.content === "string"
      ? m.content
      : (m.content ?? []).map((p) => p.text ?? "").join(""),
    name: m.name,
    tool_call_id: m.tool_call_id,
    tool_calls: m.tool_calls?.map((t) => ({
      id: t.id,
      type: "function" as const,
      function: { name: t.function.name, arguments: JSON.parse(t.function.arguments || "{}") },
    })),
  }));
}

function sse(chunks: unknown[]): Response {
  const body = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

/** Plays the model for the task in progress: the call first, then the answer. */
class ScriptedModel {
  task: Task | undefined;
  last: WireRequest | undefined;
  reply = "";
  #calls = 0;

  respond(body: WireRequest): Response {
    this.last = body;
    const t = this.task!;
    const tail = body.messages[body.messages.length - 1];
    const chunk = (delta: unknown, finish: string | null) => ({
      id: "chatcmpl-script",
      object: "chat.completion.chunk",
      created: 1,
      model: "a3s-default",
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    if (tail.role === "user" && t.call) {
      const call = {
        index: 0,
        id: `call_${++this.#calls}`,
        type: "function",
        function: { name: t.call.name, arguments: JSON.stringify(t.call.arguments) },
      };
      return sse([chunk({ role: "assistant", tool_calls: [call] }, null), chunk({}, "tool_calls")]);
    }
    const output = tail.role === "tool" ? String(tail.content ?? "") : "";
    this.reply = t.answer(output);
    return sse([chunk({ role: "assistant", content: this.reply }, null), chunk({}, "stop")]);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      count: { type: "string", default: "4000" },
      seed: { type: "string", default: "7" },
      template: { type: "string", default: "power/model/default/tokenizer_config.json" },
      corpus: { type: "string" },
    },
  });
  if (!values.out) {
    console.error("agent_dialogues: --out FILE is required");
    Deno.exit(2);
  }
  const template = JSON.parse(await Deno.readTextFile(values.template)).chat_template as string;
  if (values.corpus) {
    const added = addCorpusWords(await Deno.readTextFile(values.corpus));
    console.error(`agent_dialogues: ${added} words from ${values.corpus}`);
  }
  const r = new Rng(Number(values.seed));
  const model = new ScriptedModel();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => model.respond(await req.json() as WireRequest),
  );
  const workspace = await Deno.makeTempDir({ prefix: "a3s-agent-dialogues-" });
  const agent = await Agent.fromConfig({
    workspace,
    default_model: "power/a3s-default",
    providers: [{
      name: "power",
      base_url: `http://127.0.0.1:${server.addr.port}/v1`,
      max_attempts: 1,
      models: [{
        id: "a3s-default",
        context_window: CONTEXT_WINDOW,
        max_tokens: 128,
        temperature: 0,
      }],
    }],
    tools: { enabled: ["read", "write", "bash"] },
    max_steps: 3,
    memory: { enabled: false },
    box: { driver: "process" },
  });
  const out = await Deno.open(values.out, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const count = Number(values.count);
  let written = 0;
  let turns = 0;
  try {
    while (written < count) {
      // A session of one to four tasks: later turns see the earlier ones, as a real chat does,
      // which gives the model windows well past its old 512 positions.
      const session = agent.session();
      const tasks = r.chance(0.55) ? 1 : r.int(2, 5);
      for (let i = 0; i < tasks; i++) {
        for await (const entry of Deno.readDir(workspace)) {
          if (i === 0) await Deno.remove(`${workspace}/${entry.name}`, { recursive: true });
        }
        const t = task(r);
        for (const [name, text] of Object.entries(t.files)) {
          await Deno.writeTextFile(`${workspace}/${name}`, text);
        }
        model.task = t;
        const result = await session.send(t.prompt);
        if (result.stopReason !== "end") throw new Error(`turn ended with ${result.stopReason}`);
        turns++;
      }
      const last = model.last!;
      const document = renderChat(template, messagesOf(last), { tools: last.tools }) +
        model.reply + "<|im_end|>\n";
      const leaked = [...EVAL_FILES].find((name) => document.includes(` ${name}`)) ??
        [...EVAL_COMMANDS].find((c) => document.includes(`\`${c}\``));
      if (leaked) throw new Error(`an eval string was generated: ${leaked}`);
      await out.write(encoder.encode(document + "<|endoftext|>"));
      written++;
      if (written % 500 === 0) console.error(`agent_dialogues: ${written}/${count}`);
    }
  } finally {
    out.close();
    await agent.close();
    await server.shutdown();
    await Deno.remove(workspace, { recursive: true });
  }
  console.error(`agent_dialogues: ${written} dialogues, ${turns} turns -> ${values.out}`);
}

if (import.meta.main) await main();
