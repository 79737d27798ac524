/**
 * The `a3s box` commands: a Docker-like CLI over the box manager. Box state lives in the shared
 * store, so this CLI sees boxes `serve` started, and the reverse. `cli.ts` loads this module once
 * a command is given.
 */
import {
  AccessPolicy,
  accessPolicyFromConfig,
  loadConfig,
  openStore,
  parseCommand,
  runCommand,
  type Store,
  UsageError,
} from "@a3s/common";
import { openBoxRuntime } from "./runtime.ts";
import { parseLogOpts } from "./log_bound.ts";
import type { BoxManager, CreateBoxOptions } from "./manager.ts";
import { RegistryClient } from "./image/registry.ts";
import { busyboxImage } from "./image/busybox.ts";
import { ImageBuilder } from "./builder/builder.ts";
import { GROUP_COMMANDS, readCredentials } from "./cli_groups.ts";
import { TEE_COMMANDS } from "./kvm/tee/cli.ts";
import { HELP } from "./cli_help.ts";
import { CriRuntime } from "./cri/cri_runtime.ts";
import { parsePublish } from "./network/port_forwarder.ts";
import { serveCri } from "./cri/server.ts";
import { parseSignal } from "./drivers/_proc.ts";
import { boxTable, imageTable, outputFormat, size, table } from "./cli_format.ts";
import { redactBox } from "./_redact.ts";
import {
  parseCpus,
  parseEnv,
  parseMemory,
  parsePositive,
  parseSecurityFlags,
  parseVolume,
  splitAtPositional,
} from "./cli_parse.ts";

const VERSION = "0.1.0";

const COMMON = {
  home: { type: "string" },
  "database-url": { type: "string" },
  format: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const RUN_OPTIONS = {
  ...COMMON,
  detach: { type: "boolean", short: "d" },
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
  rm: { type: "boolean" },
  env: { type: "string", short: "e", multiple: true },
  volume: { type: "string", short: "v", multiple: true },
  workdir: { type: "string", short: "w" },
  user: { type: "string", short: "u" },
  name: { type: "string" },
  hostname: { type: "string" },
  memory: { type: "string", short: "m" },
  cpus: { type: "string" },
  "pids-limit": { type: "string" },
  network: { type: "string" },
  publish: { type: "string", short: "p", multiple: true },
  timeout: { type: "string" },
  driver: { type: "string" },
  "cap-add": { type: "string", multiple: true },
  "cap-drop": { type: "string", multiple: true },
  "read-only": { type: "boolean" },
  sysctl: { type: "string", multiple: true },
  "security-opt": { type: "string", multiple: true },
  "log-opt": { type: "string", multiple: true },
  privileged: { type: "boolean" },
  pid: { type: "string" },
  ipc: { type: "string" },
} as const;

const EXEC_OPTIONS = {
  ...COMMON,
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
  detach: { type: "boolean", short: "d" },
  env: { type: "string", short: "e", multiple: true },
  workdir: { type: "string", short: "w" },
  user: { type: "string", short: "u" },
} as const;

function valueFlags(options: Record<string, { type: string; short?: string }>): Set<string> {
  const flags = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== "string") continue;
    flags.add(`--${name}`);
    if (option.short) flags.add(`-${option.short}`);
  }
  return flags;
}

interface Session {
  boxes: BoxManager;
  store: Store;
  home: string;
}

function configOf(values: Record<string, unknown>) {
  return loadConfig({
    flags: {
      home: values.home as string | undefined,
      databaseUrl: values["database-url"] as string | undefined,
    },
  });
}

async function open(values: Record<string, unknown>): Promise<Session> {
  const config = configOf(values);
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  return { store, home: config.home, boxes: await openBoxRuntime({ store, home: config.home }) };
}

function print(format: "json" | "table", value: unknown, text: () => string): void {
  console.log(format === "json" ? JSON.stringify(value, null, 2) : text());
}

function createOptions(
  values: Record<string, unknown>,
  image: string,
  command: string[],
): CreateBoxOptions {
  const network = (values.network as string | undefined) ?? "none";
  const bridged = network !== "none" && network !== "host";
  if (bridged && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(network)) {
    throw new UsageError(`invalid --network '${network}': use none, host or a network's name`);
  }
  return {
    image,
    command,
    name: values.name as string | undefined,
    env: parseEnv((values.env as string[] | undefined) ?? []),
    volumes: ((values.volume as string[] | undefined) ?? []).map(parseVolume),
    workdir: values.workdir as string | undefined,
    user: values.user as string | undefined,
    hostname: values.hostname as string | undefined,
    network: bridged ? "none" : network as "none" | "host",
    networks: bridged ? [network] : undefined,
    publish: ((values.publish as string[] | undefined) ?? []).map(parsePublish),
    limits: {
      memoryBytes: values.memory ? parseMemory(values.memory as string) : undefined,
      cpus: values.cpus ? parseCpus(values.cpus as string) : undefined,
      pids: values["pids-limit"]
        ? parsePositive("pids-limit", values["pids-limit"] as string)
        : undefined,
    },
    timeoutSeconds: values.timeout ? parsePositive("timeout", values.timeout as string) : undefined,
    logBound: parseLogOpts((values["log-opt"] as string[] | undefined) ?? []),
    driver: values.driver as string | undefined,
    // A foreground run removes its box itself, after reading the last of its output.
    autoRemove: values.rm === true && values.detach === true,
    interactive: values.interactive === true && values.tty !== true,
    // The main command on a terminal (`-t`); an attached run on a terminal uses a tty exec.
    tty: values.tty === true ? true : undefined,
    security: parseSecurityFlags({
      capAdd: values["cap-add"] as string[] | undefined,
      capDrop: values["cap-drop"] as string[] | undefined,
      readOnly: values["read-only"] as boolean | undefined,
      sysctl: values.sysctl as string[] | undefined,
      securityOpt: values["security-opt"] as string[] | undefined,
      privileged: values.privileged as boolean | undefined,
      pid: values.pid as string | undefined,
      ipc: values.ipc as string | undefined,
    }),
  };
}

async function pump(
  from: ReadableStream<Uint8Array>,
  to: { write(p: Uint8Array): Promise<number> },
) {
  for await (const chunk of from) {
    let written = 0;
    while (written < chunk.length) written += await to.write(chunk.subarray(written));
  }
}

/** Runs an exec to completion on this terminal; returns its exit code. */
async function attachExec(
  boxes: BoxManager,
  box: string,
  command: string[],
  values: Record<string, unknown>,
): Promise<number> {
  const tty = values.tty === true && Deno.stdin.isTerminal();
  const process = await boxes.exec(box, {
    command,
    env: parseEnv((values.env as string[] | undefined) ?? []),
    workdir: values.workdir as string | undefined,
    user: values.user as string | undefined,
    tty,
  });
  if (tty) {
    Deno.stdin.setRaw(true);
    const { columns, rows } = Deno.consoleSize();
    await process.resize?.(rows, columns);
  }
  try {
    const input = values.interactive
      ? Deno.stdin.readable.pipeTo(process.stdin).catch(() => {})
      : process.stdin.close().catch(() => {});
    void input;
    await Promise.all([pump(process.stdout, Deno.stdout), pump(process.stderr, Deno.stderr)]);
    return (await process.status).exitCode;
  } finally {
    if (tty) Deno.stdin.setRaw(false);
  }
}

async function runBox(args: string[], startIt: boolean): Promise<number> {
  const { flags, positional: image, rest } = splitAtPositional(args, valueFlags(RUN_OPTIONS));
  const { values } = parseCommand(flags, RUN_OPTIONS, false);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!image) throw new UsageError(`${startIt ? "run" : "create"} needs an IMAGE`);
  const options = createOptions(values, image, rest);
  const { boxes, store } = await open(values);
  try {
    if (!startIt) {
      console.log((await boxes.create(options)).id);
      return 0;
    }
    if (values.tty && !values.detach && Deno.stdin.isTerminal()) {
      // On a terminal the pty comes from the agent: the box idles and the command runs as a tty
      // exec, so keystrokes and window sizes reach it. Elsewhere the main command gets the tty.
      const { info } = await boxes.run({
        ...options,
        tty: undefined,
        idle: true,
        autoRemove: false,
      });
      try {
        const command = rest.length
          ? rest
          : (await boxes.images.inspect(image)).config.config?.Cmd ?? ["sh"];
        return await attachExec(boxes, info.id, command, values);
      } finally {
        await boxes.stop(info.id, 1);
        if (values.rm) await boxes.remove(info.id, true);
      }
    }
    // Attached, the box's output comes as it is written (through pipes on the namespace driver),
    // while its logs keep every byte.
    const { info, stdin, output } = await boxes.run(options, { attach: values.detach !== true });
    if (values.detach || !output) {
      console.log(info.id);
      return 0;
    }
    if (stdin) Deno.stdin.readable.pipeTo(stdin).catch(() => {});
    for await (const chunk of output) {
      const to = chunk.stream === "stdout" ? Deno.stdout : Deno.stderr;
      for (let written = 0; written < chunk.data.length;) {
        written += await to.write(chunk.data.subarray(written));
      }
    }
    const done = await boxes.wait(info.id).catch(() => undefined);
    if (values.rm) await boxes.remove(info.id, true).catch(() => {});
    if (done?.reason && !["exited", "stopped"].includes(done.reason)) {
      console.error(`box ${info.name} ended: ${done.reason}`);
    }
    return done?.exitCode ?? 0;
  } finally {
    await store.close();
  }
}

async function execBox(args: string[]): Promise<number> {
  const { flags, positional: box, rest } = splitAtPositional(args, valueFlags(EXEC_OPTIONS));
  const { values } = parseCommand(flags, EXEC_OPTIONS, false);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!box || rest.length === 0) throw new UsageError("exec needs a BOX and a COMMAND");
  const { boxes, store } = await open(values);
  try {
    if (values.detach) {
      const process = await boxes.exec(box, {
        command: rest,
        env: parseEnv((values.env as string[] | undefined) ?? []),
      });
      await process.stdin.close();
      return 0;
    }
    return await attachExec(boxes, box, rest, values);
  } finally {
    await store.close();
  }
}

type Handler = (
  boxes: BoxManager,
  positionals: string[],
  values: Record<string, unknown>,
  format: "json" | "table",
) => Promise<number | void>;

function need(positionals: string[], count: number, usage: string): void {
  if (positionals.length < count) throw new UsageError(`usage: a3s box ${usage}`);
}

const EXTRA_OPTIONS = {
  all: { type: "boolean", short: "a" },
  force: { type: "boolean", short: "f" },
  follow: { type: "boolean", short: "f" },
  time: { type: "string", short: "t" },
  signal: { type: "string", short: "s" },
  input: { type: "string", short: "i" },
  output: { type: "string", short: "o" },
  tag: { type: "string", short: "t", multiple: true },
  file: { type: "string", short: "f" },
  "build-arg": { type: "string", multiple: true },
  "no-cache": { type: "boolean" },
  target: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  network: { type: "string" },
  memory: { type: "string", short: "m" },
  cpus: { type: "string" },
  "pids-limit": { type: "string" },
} as const;

const COMMANDS: Record<string, { options: (keyof typeof EXTRA_OPTIONS)[]; handler: Handler }> = {
  ps: {
    options: ["all"],
    async handler(boxes, _p, values, format) {
      const list = (await boxes.list({ all: values.all === true })).map(redactBox);
      print(format, list, () => boxTable(list));
    },
  },
  start: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "start BOX...");
      for (const box of p) console.log((await boxes.start(box)).info.name);
    },
  },
  stop: {
    options: ["time"],
    async handler(boxes, p, values) {
      need(p, 1, "stop [-t SECS] BOX...");
      const grace = values.time === undefined ? 10 : parsePositive("time", values.time as string);
      for (const box of p) console.log((await boxes.stop(box, grace)).name);
    },
  },
  "container-update": {
    options: ["memory", "cpus", "pids-limit"],
    async handler(boxes, p, values) {
      need(p, 1, "container-update [--memory 512m] [--cpus 1.5] [--pids-limit N] BOX...");
      const limits = {
        memoryBytes: values.memory ? parseMemory(values.memory as string) : undefined,
        cpus: values.cpus ? parseCpus(values.cpus as string) : undefined,
        pids: values["pids-limit"]
          ? parsePositive("pids-limit", values["pids-limit"] as string)
          : undefined,
      };
      if (Object.values(limits).every((v) => v === undefined)) {
        throw new UsageError("container-update needs --memory, --cpus or --pids-limit");
      }
      for (const box of p) console.log((await boxes.update(box, limits)).name);
    },
  },
  pause: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "pause BOX...");
      for (const box of p) console.log((await boxes.setPaused(box, true)).name);
    },
  },
  unpause: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "unpause BOX...");
      for (const box of p) console.log((await boxes.setPaused(box, false)).name);
    },
  },
  restart: {
    options: ["time"],
    async handler(boxes, p, values) {
      need(p, 1, "restart BOX...");
      const grace = values.time === undefined ? 10 : parsePositive("time", values.time as string);
      for (const box of p) console.log((await boxes.restart(box, grace)).name);
    },
  },
  kill: {
    options: ["signal"],
    async handler(boxes, p, values) {
      need(p, 1, "kill [-s SIGNAL] BOX...");
      const signal = parseSignal((values.signal as string | undefined) ?? "KILL");
      if (signal === undefined) throw new UsageError(`invalid signal '${values.signal}'`);
      for (const box of p) console.log((await boxes.kill(box, signal)).name);
    },
  },
  rm: {
    options: ["force"],
    async handler(boxes, p, values) {
      need(p, 1, "rm [-f] BOX...");
      for (const box of p) {
        await boxes.remove(box, values.force === true);
        console.log(box);
      }
    },
  },
  attach: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "attach BOX");
      // Streams the main command's output live until it exits; Ctrl-C detaches and leaves the
      // box running. Its stdin belongs to the process that started it (run -i).
      const stop = new AbortController();
      const detach = () => stop.abort();
      Deno.addSignalListener("SIGINT", detach);
      try {
        const info = await boxes.inspect(p[0]);
        if (info.state !== "running") throw new UsageError(`box ${info.name} is not running`);
        for await (
          const chunk of boxes.logs(info.id, { follow: true, fromEnd: true, signal: stop.signal })
        ) {
          await (chunk.stream === "stdout" ? Deno.stdout : Deno.stderr).write(chunk.data);
        }
        if (stop.signal.aborted) return 0;
        return (await boxes.wait(info.id)).exitCode ?? 0;
      } finally {
        Deno.removeSignalListener("SIGINT", detach);
      }
    },
  },
  logs: {
    options: ["follow"],
    async handler(boxes, p, values) {
      need(p, 1, "logs [-f] BOX");
      for await (const chunk of boxes.logs(p[0], { follow: values.follow === true })) {
        await (chunk.stream === "stdout" ? Deno.stdout : Deno.stderr).write(chunk.data);
      }
    },
  },
  inspect: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "inspect BOX...");
      const infos: Awaited<ReturnType<BoxManager["inspect"]>>[] = [];
      // A terminal's scrollback and a pasted bug report keep what it shows: no passwords.
      for (const box of p) infos.push(redactBox(await boxes.inspect(box)));
      console.log(JSON.stringify(infos, null, 2));
    },
  },
  wait: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "wait BOX...");
      for (const box of p) console.log((await boxes.wait(box)).exitCode);
    },
  },
  rename: {
    options: [],
    async handler(boxes, p) {
      need(p, 2, "rename BOX NEW_NAME");
      await boxes.rename(p[0], p[1]);
    },
  },
  port: {
    options: [],
    async handler(boxes, p, _values, format) {
      need(p, 1, "port BOX");
      const ports = await boxes.ports(p[0]);
      print(
        format,
        ports,
        () =>
          ports.map((port) => `${port.boxPort}/tcp -> ${port.hostIp}:${port.hostPort}`).join("\n"),
      );
    },
  },
  stats: {
    options: [],
    async handler(boxes, p, _v, format) {
      const targets = p.length ? p : (await boxes.list()).map((b) => b.id);
      const stats: Awaited<ReturnType<BoxManager["stats"]>>[] = [];
      for (const box of targets) stats.push(await boxes.stats(box));
      print(format, stats, () =>
        table(
          ["BOX ID", "NAME", "CPU SECONDS", "MEM USAGE / LIMIT", "PIDS"],
          stats.map((s) => [
            s.id.slice(0, 12),
            s.name,
            s.cpuSeconds?.toFixed(2) ?? "-",
            `${s.memoryBytes === undefined ? "-" : size(s.memoryBytes)} / ${
              s.memoryLimitBytes === undefined ? "-" : size(s.memoryLimitBytes)
            }`,
            `${s.pids ?? "-"}`,
          ]),
        ));
    },
  },
  top: {
    options: [],
    async handler(boxes, p) {
      need(p, 1, "top BOX");
      const process = await boxes.exec(p[0], { command: ["ps", "-o", "pid,user,time,args"] });
      await process.stdin.close();
      await Promise.all([pump(process.stdout, Deno.stdout), pump(process.stderr, Deno.stderr)]);
      return (await process.status).exitCode;
    },
  },
  cp: {
    options: [],
    async handler(boxes, p) {
      need(p, 2, "cp BOX:/path HOST_PATH | HOST_PATH BOX:/path");
      const [source, target] = p;
      const boxPath = (s: string) => /^[^/:]+:\//.test(s);
      if (boxPath(source) && !boxPath(target)) {
        const [box, path] = [
          source.slice(0, source.indexOf(":")),
          source.slice(source.indexOf(":") + 1),
        ];
        await Deno.writeFile(target, await boxes.copyOut(box, path));
      } else if (!boxPath(source) && boxPath(target)) {
        const [box, path] = [
          target.slice(0, target.indexOf(":")),
          target.slice(target.indexOf(":") + 1),
        ];
        const info = await Deno.stat(source).catch(() => {
          throw new UsageError(`no such file: ${source}`);
        });
        await boxes.copyIn(box, await Deno.readFile(source), path, (info.mode ?? 0o644) & 0o777);
      } else {
        throw new UsageError("cp copies between a box and the host: one side must be BOX:/path");
      }
    },
  },
  images: {
    options: [],
    async handler(boxes, _p, _v, format) {
      const list = await boxes.images.list();
      print(format, list, () => imageTable(list));
    },
  },
  pull: {
    options: [],
    async handler(boxes, p, values) {
      need(p, 1, "pull REF");
      const id = await new RegistryClient(boxes.images, {
        onProgress: (line) => console.error(line),
        credentials: await readCredentials(configOf(values).home),
      })
        .pull(p[0]);
      console.log(`Digest: ${id}`);
    },
  },
  push: {
    options: [],
    async handler(boxes, p, values) {
      need(p, 1, "push REF [TARGET]");
      const client = new RegistryClient(boxes.images, {
        credentials: await readCredentials(configOf(values).home),
      });
      console.log(`Digest: ${await client.push(p[0], p[1] ?? p[0])}`);
    },
  },
  load: {
    options: ["input"],
    async handler(boxes, _p, values) {
      const file = values.input as string | undefined;
      const data = file
        ? await Deno.readFile(file)
        : await new Response(Deno.stdin.readable).bytes();
      for (const ref of await boxes.images.load(data)) console.log(`Loaded image: ${ref}`);
    },
  },
  save: {
    options: ["output"],
    async handler(boxes, p, values) {
      need(p, 1, "save -o FILE REF...");
      const data = await boxes.images.save(p);
      if (values.output) await Deno.writeFile(values.output as string, data);
      else if (Deno.stdout.isTerminal()) {
        throw new UsageError("refusing to write a tarball to a terminal; use -o FILE");
      } else await pump(new Blob([data as Uint8Array<ArrayBuffer>]).stream(), Deno.stdout);
    },
  },
  rmi: {
    options: ["force"],
    async handler(boxes, p, values) {
      need(p, 1, "rmi [-f] REF...");
      for (const ref of p) {
        const result = await boxes.images.remove(
          ref,
          (id) => boxes.imageInUse(id),
          values.force === true,
        );
        for (const tag of result.untagged) console.log(`Untagged: ${tag}`);
        for (const id of result.deleted) console.log(`Deleted: ${id}`);
      }
    },
  },
  tag: {
    options: [],
    async handler(boxes, p) {
      need(p, 2, "tag SOURCE TARGET");
      await boxes.images.tag(p[0], p[1]);
    },
  },
  build: {
    options: ["tag", "file", "build-arg", "no-cache", "target", "quiet", "network"],
    async handler(boxes, p, values, format) {
      need(p, 1, "build [-t TAG]... [-f Dockerfile] [--build-arg K=V]... [--target STAGE] PATH");
      const network = (values.network as string | undefined) ?? "none";
      if (network !== "none" && network !== "host") {
        throw new UsageError(`invalid --network '${network}': use none or host`);
      }
      const quiet = values.quiet === true || format === "json";
      const result = await new ImageBuilder(boxes).build({
        contextDir: p[0],
        dockerfile: values.file as string | undefined,
        tags: (values.tag as string[] | undefined) ?? [],
        buildArgs: parseEnv((values["build-arg"] as string[] | undefined) ?? []),
        target: values.target as string | undefined,
        noCache: values["no-cache"] === true,
        network,
        // `ADD <url>` fetches as the server would: through the configured access policy.
        policy: accessPolicyFromConfig(configOf(values)),
        log: quiet ? undefined : (line) => console.error(line),
        output: quiet ? undefined : (chunk) => {
          Deno.stderr.writeSync(chunk);
        },
      });
      print(format, result, () => result.imageId);
    },
  },
  "import-busybox": {
    options: [],
    async handler(boxes, p) {
      const { layer, config } = await busyboxImage();
      console.log(await boxes.images.createImage([layer], config, [p[0] ?? "busybox:latest"]));
    },
  },
  info: {
    options: [],
    async handler(boxes, _p, _v, format) {
      const probes = await boxes.info();
      const chosen = probes.find((d) => d.available)?.name ?? null;
      print(format, { defaultDriver: chosen, drivers: probes }, () =>
        table(
          ["DRIVER", "AVAILABLE", "ISOLATION", "DEFAULT", "DETAIL"],
          probes.map((
            d,
          ) => [
            d.name,
            d.available ? "yes" : "no",
            d.isolation,
            d.name === chosen ? "*" : "",
            d.detail,
          ]),
        ));
    },
  },
  version: {
    options: [],
    async handler(boxes, _p, _v, format) {
      const value = { version: VERSION, drivers: (await boxes.info()).map((d) => d.name) };
      print(format, value, () => `a3s box ${VERSION} (drivers: ${value.drivers.join(", ")})`);
    },
  },
  system: {
    options: [],
    async handler(boxes, p) {
      if (p[0] !== "prune") throw new UsageError("usage: a3s box system prune");
      const removed = await boxes.prune();
      const freed = await boxes.images.gc();
      for (const id of removed) console.log(`Deleted box: ${id}`);
      console.log(`Total reclaimed space: ${size(freed)}`);
    },
  },
};

const CRI_OPTIONS = {
  ...COMMON,
  listen: { type: "string" },
  "sandbox-image": { type: "string" },
  "stream-address": { type: "string" },
  "registry-mirror": { type: "string", multiple: true },
} as const;

/** `--registry-mirror gcr.io=127.0.0.1:5000` values, registry to endpoint. */
function parseMirrors(values: string[]): Record<string, string> {
  const mirrors: Record<string, string> = {};
  for (const value of values) {
    const m = /^([a-z0-9.-]+(?::\d+)?)=((?:https?:\/\/)?[a-zA-Z0-9.-]+(?::\d+)?)\/?$/.exec(value);
    if (!m) {
      throw new UsageError(
        `invalid --registry-mirror '${value}': use REGISTRY=HOST[:PORT] (http:// for plain HTTP)`,
      );
    }
    mirrors[m[1]] = m[2];
  }
  return mirrors;
}

/** `box cri`: serves the CRI until SIGINT or SIGTERM. */
async function serveCriCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(args, CRI_OPTIONS, false);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const registryMirrors = parseMirrors((values["registry-mirror"] as string[] | undefined) ?? []);
  // Localhost seccomp profiles are read from the kubelet's directory, and from the configured
  // access policy's roots.
  const configured = accessPolicyFromConfig(configOf(values)).config;
  const policy = new AccessPolicy({
    ...configured,
    roots: [...configured.roots, "/var/lib/kubelet/seccomp"],
  });
  const session = await open(values);
  const runtime = new CriRuntime(session.boxes, session.home, {
    sandboxImage: values["sandbox-image"] as string | undefined,
    registryMirrors,
    policy,
  });
  try {
    const server = await serveCri(
      runtime,
      (values.listen as string | undefined) ?? "unix:///run/a3s/box.sock",
      { streamAddress: values["stream-address"] as string | undefined },
    );
    console.error(`box cri listening on ${server.address}, streaming on ${server.streamingUrl}`);
    await new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
    });
    await server.close();
    return 0;
  } finally {
    session.boxes.close();
    await session.store.close();
  }
}

/** Runs `a3s box` with `args`, whose first is a command: `cli.ts` prints the help itself. */
export function runBoxCommand(args: string[]): Promise<number> {
  return runCommand(async () => {
    const [command, ...rest] = args;
    if (command === "run") return await runBox(rest, true);
    if (command === "create") return await runBox(rest, false);
    if (command === "exec") return await execBox(rest);
    if (command === "cri") return await serveCriCommand(rest);
    const group = GROUP_COMMANDS[command] ?? TEE_COMMANDS[command];
    if (group) {
      const { values, positionals } = parseCommand(rest, { ...COMMON, ...group.options });
      if (values.help) {
        console.log(HELP);
        return 0;
      }
      const format = outputFormat(values);
      const session = await open(values);
      try {
        return await group.run({ ...session, positionals, values, format }) ?? 0;
      } finally {
        session.boxes.close();
        await session.store.close();
      }
    }
    const spec = COMMANDS[command];
    if (!spec) throw new UsageError(`unknown command 'box ${command}'; run 'a3s box --help'`);
    const options = Object.fromEntries(spec.options.map((name) => [name, EXTRA_OPTIONS[name]]));
    const { values, positionals } = parseCommand(rest, { ...COMMON, ...options });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const format = outputFormat(values);
    const { boxes, store } = await open(values);
    try {
      return await spec.handler(boxes, positionals, values, format) ?? 0;
    } finally {
      boxes.close();
      await store.close();
    }
  });
}
