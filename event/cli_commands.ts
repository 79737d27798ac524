/** The event commands `cli.ts` runs once the command is known: they open the configured bus. */
import {
  createLogger,
  intFlag,
  loadConfig,
  openStore,
  outputFormat,
  type ParsedArgs,
  printFormatted,
  readStdin,
  renderTable,
  type Store,
  UsageError,
} from "@a3s/common";
import type { EventBus } from "./bus.ts";
import { EventConfigSchema } from "./config.ts";
import { EventBrokerError } from "./errors.ts";
import { openEventBus } from "./setup.ts";

type Values = ParsedArgs["values"];

async function openBus(values: Values): Promise<{ bus: EventBus; store: Store }> {
  const config = loadConfig({
    flags: {
      home: values.home as string | undefined,
      databaseUrl: values["database-url"] as string | undefined,
      config: values.config as string | undefined,
    },
  });
  const parsed = EventConfigSchema.safeParse({
    ...(config.event as object | undefined),
    ...(values.url ? { url: values.url } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`event.${issue.path.join(".")}: ${issue.message}`);
  }
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  try {
    const bus = await openEventBus(parsed.data, {
      store,
      databaseUrl: config.databaseUrl,
      logger: createLogger("error"),
    });
    return { bus, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}

function headersOf(values: Values): Record<string, string> | undefined {
  const raw = values.header as string[] | undefined;
  if (!raw?.length) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of raw) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--header must be NAME=VALUE, got '${pair}'`);
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`payload is not JSON: '${text.slice(0, 40)}'`);
  }
}

async function publish(bus: EventBus, positionals: string[], values: Values) {
  const [subject, payload] = positionals;
  if (!subject) throw new UsageError("pub needs a SUBJECT");
  if (positionals.length > 2) throw new UsageError("pub takes SUBJECT and one JSON payload");
  const text = payload === "-" ? await readStdin() : payload;
  const published = await bus.publish(subject, text === undefined ? null : parsePayload(text), {
    key: values.key as string | undefined,
    headers: headersOf(values),
    id: values.id as string | undefined,
  });
  console.log(JSON.stringify(published));
}

async function follow(bus: EventBus, positionals: string[], values: Values) {
  const [pattern] = positionals;
  if (!pattern || positionals.length > 1) throw new UsageError("sub needs one PATTERN");
  const count = intFlag(values, "count");
  if (count !== undefined && count < 1) throw new UsageError("--count must be at least 1");
  let seen = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const stop = () => resolve();
  Deno.addSignalListener("SIGINT", stop);
  const subscription = await bus.subscribe(pattern, (message) => {
    if (count !== undefined && seen >= count) return;
    console.log(JSON.stringify({ seq: message.seq, ...message.event }));
    if (count !== undefined && ++seen >= count) resolve();
  }, { after: values.after as string | undefined });
  try {
    await done;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    await subscription.close();
  }
}

async function list(bus: EventBus, positionals: string[], values: Values) {
  const format = outputFormat(values);
  const what = positionals[0] ?? "subjects";
  if (what === "subjects") {
    const subjects = await bus.subjects();
    printFormatted(format, subjects, () =>
      renderTable(
        ["SUBJECT", "EVENTS"],
        subjects.map((s) => [s.subject, String(s.events)]),
        "no events yet",
      ));
  } else if (what === "consumers") {
    const consumers = await bus.consumers();
    printFormatted(format, consumers, () =>
      renderTable(
        ["CONSUMER", "PATTERN", "LAG", "UNACKED"],
        consumers.map((c) => [c.name, c.pattern, String(c.pending), String(c.unacked)]),
        "no durable consumers",
      ));
  } else {
    throw new UsageError(`ls lists subjects or consumers, not '${what}'`);
  }
}

/** Opens the configured bus, runs one checked command on it and closes it; the exit code. */
export async function runEvent(
  command: "pub" | "sub" | "ls",
  rest: string[],
  values: Values,
): Promise<number> {
  const run = { pub: publish, sub: follow, ls: list }[command];
  let opened: { bus: EventBus; store: Store };
  try {
    opened = await openBus(values);
  } catch (error) {
    // An unreachable broker is one line, not a stack trace.
    if (!(error instanceof EventBrokerError)) throw error;
    console.error(`error: ${error.message}`);
    return 1;
  }
  const { bus, store } = opened;
  try {
    await run(bus, rest, values);
  } finally {
    await bus.close();
    await store.close();
  }
  return 0;
}
