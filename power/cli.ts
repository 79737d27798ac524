/**
 * `a3s power`: list, show, pull, rm, cp, ps and run models, like the `ollama` command. The
 * commands live in `cli_commands.ts`, loaded once one is asked for (they bring the engine);
 * `--help` loads none of it.
 */
import { importOnDemand, parseCommand, runCommand } from "@a3s/common/cli";

const HELP = `Usage: a3s power <command> [options]

Commands:
  list                    models in the store
  show MODEL              a model's details
  pull SOURCE [--name N]  copy a model from a directory, .tar/.tar.gz/.zip archive or URL
  rm MODEL                remove a model
  cp SOURCE DESTINATION   copy a model under a new name
  ps                      models loaded by the running server
  run MODEL [PROMPT]      answer PROMPT, or chat interactively when it is left out

Options:
  --format FORMAT  list, show, ps: table (default) or json; run: json for a JSON answer
  --json           list, show, ps: shorthand for --format json
  --home DIR       data dir (env A3S_HOME, default ~/.a3s)
  --host HOST      server to talk to (env A3S_HOST, default 127.0.0.1)
  --port PORT      its port (env A3S_PORT, default 11434)
  --local          never use a running server; run the engine in this process
  --max-tokens N   most tokens to generate per answer (run)
  --seed N         sampling seed (run)
  -h, --help       show this help`;

const OPTIONS = {
  home: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  name: { type: "string" },
  local: { type: "boolean" },
  "max-tokens": { type: "string" },
  seed: { type: "string" },
  format: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `a3s power ARGS` and returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    const [command] = positionals;
    if (values.help || command === undefined || command === "help") {
      console.log(HELP);
      return command === undefined && !values.help ? 2 : 0;
    }
    const commands = await importOnDemand<typeof import("./cli_commands.ts")>(
      "./cli_commands.ts",
      import.meta.url,
    );
    return await commands.runPower(values, positionals);
  });
}
