/**
 * The `a3s power` commands: list, show, pull, rm, cp, ps and run models, like the `ollama`
 * command. `cli.ts` loads this module once a command is given, so `--help` loads no engine.
 */
import { type Config, loadConfig, UsageError } from "@a3s/common";
import type { ChatMessage } from "./engine/chat_template.ts";
import { modelNameFromSource, normalizeName } from "./models/names.ts";
import type { PullProgress } from "./models/store.ts";
import { Power } from "./service.ts";

function need(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length < count) throw new UsageError(`usage: a3s power ${usage}`);
  return positionals;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e3).toFixed(0)} KB`;
}

/** How list and inspect commands print: Docker's `--format table|json`, `--json` for short. */
type OutputFormat = "table" | "json";

function outputFormat(values: Record<string, unknown>): OutputFormat {
  if (values.json) {
    if (values.format !== undefined && values.format !== "json") {
      throw new UsageError(`--json contradicts --format ${values.format}`);
    }
    return "json";
  }
  const format = values.format ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`--format takes 'table' or 'json', got '${format}'`);
  }
  return format;
}

/** Prints `value` as JSON, or `rows` (a header row first) as an aligned table. */
function print(format: OutputFormat, value: unknown, rows: () => string[][]): void {
  console.log(format === "json" ? JSON.stringify(value, null, 2) : table(rows()));
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd()).join("\n");
}

function serverUrl(config: Config): string {
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`;
}

async function serverAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(500) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Hex digits of a digest a table shows, as `ollama list` does. */
const DIGEST_SHOWN = 12;

/** One loaded model as `/api/ps` lists it. */
interface PsEntry {
  name: string;
  digest: string;
  size: number;
  expires_at: string;
}

const encoder = new TextEncoder();
const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));

interface Answerer {
  answer(messages: ChatMessage[]): Promise<string>;
  close(): Promise<void>;
}

function localAnswerer(
  power: Power,
  model: string,
  options: { maxTokens?: number; seed?: number; format?: "json" },
): Answerer {
  return {
    async answer(messages) {
      const stream = power.chat({
        model,
        messages,
        maxTokens: options.maxTokens,
        sampling: { seed: options.seed },
        format: options.format,
      });
      let text = "";
      let step = await stream.next();
      while (!step.done) {
        write(step.value.text);
        text += step.value.text;
        step = await stream.next();
      }
      for (const call of step.value.toolCalls) write(`\n[tool call] ${JSON.stringify(call)}`);
      write("\n");
      return step.value.content;
    },
    close: () => power.close(),
  };
}

function remoteAnswerer(
  url: string,
  model: string,
  options: { maxTokens?: number; seed?: number; format?: "json" },
): Answerer {
  return {
    async answer(messages) {
      const response = await fetch(`${url}/api/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model,
          messages,
          stream: true,
          format: options.format,
          options: { num_predict: options.maxTokens, seed: options.seed },
        }),
      });
      if (!response.ok || !response.body) {
        const body = await response.json().catch(() => ({}));
        throw new UsageError(body.error ?? `server answered ${response.status}`);
      }
      let text = "";
      let buffer = "";
      for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let at;
        while ((at = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 1);
          if (!line.trim()) continue;
          const part = JSON.parse(line);
          if (part.error) throw new Error(part.error);
          const piece = part.message?.content ?? "";
          write(piece);
          text += piece;
          for (const call of part.message?.tool_calls ?? []) {
            write(`\n[tool call] ${JSON.stringify(call.function)}`);
          }
        }
      }
      write("\n");
      return text;
    },
    close: () => Promise.resolve(),
  };
}

async function runModel(
  config: Config,
  values: Record<string, unknown>,
  model: string,
  prompt: string | undefined,
): Promise<number> {
  const maxTokens = values["max-tokens"] === undefined ? undefined : Number(values["max-tokens"]);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0)) {
    throw new UsageError(`--max-tokens must be a positive integer, got '${values["max-tokens"]}'`);
  }
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new UsageError(`--seed must be an integer, got '${values.seed}'`);
  }
  if (values.json || (values.format !== undefined && values.format !== "json")) {
    throw new UsageError(`run: --format takes only 'json' (answer with a JSON object)`);
  }
  const options = { maxTokens, seed, format: values.format as "json" | undefined };
  const url = serverUrl(config);
  let answerer: Answerer;
  if (!values.local && await serverAnswers(url)) {
    answerer = remoteAnswerer(url, model, options);
  } else {
    const power = Power.fromConfig(config);
    await power.store.get(model);
    console.error(`loading ${normalizeName(model)} ...`);
    const started = performance.now();
    await power.registry.load(model);
    console.error(`loaded in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    answerer = localAnswerer(power, model, options);
  }
  try {
    if (prompt !== undefined) {
      await answerer.answer([{ role: "user", content: prompt }]);
      return 0;
    }
    const history: ChatMessage[] = [];
    const interactive = Deno.stdin.isTerminal();
    if (interactive) console.error("Send a message (/bye to quit, /clear to forget the chat)");
    let buffer = "";
    const showPrompt = () => interactive && write(">>> ");
    showPrompt();
    for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let at;
      while ((at = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, at).trim();
        buffer = buffer.slice(at + 1);
        if (line === "/bye") return 0;
        if (line === "/clear") history.length = 0;
        else if (line) {
          history.push({ role: "user", content: line });
          history.push({ role: "assistant", content: await answerer.answer(history) });
        }
        showPrompt();
      }
    }
    if (buffer.trim()) {
      history.push({ role: "user", content: buffer.trim() });
      await answerer.answer(history);
    }
    return 0;
  } finally {
    await answerer.close();
  }
}

/** Runs a parsed `a3s power` command (the help was printed before this module was loaded). */
export async function runPower(
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  positionals: string[],
): Promise<number> {
  const [command, ...rest] = positionals;
  const config = loadConfig({
    flags: { home: values.home, host: values.host, port: values.port },
  });
  const power = () => Power.fromConfig(config);
  switch (command) {
    case "list":
    case "ls": {
      const format = outputFormat(values);
      const models = (await power().store.list()).map((m) => ({
        name: m.name,
        digest: m.digest,
        size: m.size,
        modifiedAt: m.modifiedAt.toISOString(),
      }));
      print(format, models, () => [
        ["NAME", "ID", "SIZE", "MODIFIED"],
        ...models.map((
          m,
        ) => [m.name, m.digest.slice(0, DIGEST_SHOWN), formatBytes(m.size), m.modifiedAt]),
      ]);
      return 0;
    }
    case "show": {
      const format = outputFormat(values);
      const [name] = need(rest, 1, "show MODEL");
      const p = power();
      const stored = await p.store.get(name);
      const manifest = await p.store.manifest(name);
      const details = {
        name: stored.name,
        path: stored.dir,
        architecture: manifest.modelType,
        kind: manifest.kind,
        weights: manifest.onnxFile,
        weightBytes: manifest.weightBytes,
        variants: manifest.onnxFiles,
        contextLength: manifest.contextLength,
        chatTemplate: Boolean(manifest.chatTemplate),
      };
      print(format, details, () => [
        ["name", details.name],
        ["path", details.path],
        ["architecture", details.architecture],
        ["kind", details.kind],
        ["weights", `${details.weights} (${formatBytes(details.weightBytes)})`],
        ["variants", details.variants.join(", ")],
        ["context length", String(details.contextLength)],
        ["chat template", details.chatTemplate ? "yes" : "no"],
      ]);
      return 0;
    }
    case "pull": {
      const [source] = need(rest, 1, "pull SOURCE [--name NAME]");
      const name = (values.name as string | undefined) ?? modelNameFromSource(source);
      let last = "";
      const onProgress = (p: PullProgress) => {
        const line = p.total
          ? `${p.status} ${Math.round(((p.completed ?? 0) / p.total) * 100)}% (${
            formatBytes(p.completed ?? 0)
          }/${formatBytes(p.total)})`
          : p.status;
        if (line !== last) console.error(line);
        last = line;
      };
      const stored = await power().store.pull(source, name, { onProgress });
      console.log(stored.name);
      return 0;
    }
    case "rm": {
      need(rest, 1, "rm MODEL...");
      const p = power();
      for (const name of rest) {
        await p.store.remove(name);
        console.log(`deleted '${normalizeName(name)}'`);
      }
      return 0;
    }
    case "cp": {
      const [source, destination] = need(rest, 2, "cp SOURCE DESTINATION");
      await power().store.copy(source, destination);
      console.log(`copied '${normalizeName(source)}' to '${normalizeName(destination)}'`);
      return 0;
    }
    case "ps": {
      const format = outputFormat(values);
      const url = serverUrl(config);
      if (!(await serverAnswers(url))) {
        console.error(`no server answers at ${url}; nothing is loaded`);
        return 1;
      }
      const { models } = await (await fetch(`${url}/api/ps`)).json() as { models: PsEntry[] };
      print(format, models, () => [
        ["NAME", "ID", "SIZE", "UNTIL"],
        ...models.map((
          m,
        ) => [m.name, m.digest.slice(0, DIGEST_SHOWN), formatBytes(m.size), m.expires_at]),
      ]);
      return 0;
    }
    case "run": {
      const [model, ...words] = need(rest, 1, "run MODEL [PROMPT]");
      return await runModel(config, values, model, words.length ? words.join(" ") : undefined);
    }
    default:
      throw new UsageError(`unknown power command '${command}'; run 'a3s power --help'`);
  }
}
