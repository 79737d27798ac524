/** Starts the real `mod.ts serve` in a child process and finds its URL. */
const ROOT = new URL("../", import.meta.url).pathname;

/** A running `serve` child process. */
export interface ServeProcess {
  url: string;
  process: Deno.ChildProcess;
  /** Everything the server wrote to stderr so far (its JSON log lines). */
  logs(): string;
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Spawns `deno run -A mod.ts serve --port 0 ...args` and waits until it listens. */
export async function spawnServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "serve", "--port", "0", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of process.stderr) stderr += decoder.decode(chunk);
  })();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  const deadline = Date.now() + 60_000;
  while (!/listening on (\S+)/.test(stdout)) {
    if (Date.now() > deadline) throw new Error(`serve did not start:\n${stderr}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited early:\n${stderr}`);
    stdout += value;
  }
  const url = stdout.match(/listening on (\S+)/)![1];
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    url,
    process,
    logs: () => stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      process.kill(signal);
      return await process.status;
    },
  };
}

/** Runs `deno run -A mod.ts ...args` to completion. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, ...args],
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Polls `/readyz` until it answers 200 (modules may still be loading, such as a model). */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/readyz`);
    const body = await response.json();
    if (response.status === 200) return body;
    if (Date.now() > deadline) {
      throw new Error(`not ready after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
