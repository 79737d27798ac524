/** The `serve` command: load config, assemble every module's sub-app, serve until a signal. */
import {
  type A3sModule,
  createLogger,
  intFlag,
  loadConfig,
  parseCommand,
  startServer,
  UsageError,
} from "@a3s/common";

/** Each served module, loaded lazily so other commands never pay for it. */
export const SERVED_MODULES: ReadonlyArray<() => Promise<A3sModule>> = [
  // module sub-apps register here, one line each
  () => import("./lane/routes.ts").then((m) => m.laneModule()),
  () => import("./power/routes.ts").then((m) => m.powerModule()),
  () => import("./safeclaw/routes.ts").then((m) => m.safeclawModule()),
  () => import("./box/routes.ts").then((m) => m.boxModule()),
  () => import("./search/routes.ts").then((m) => m.searchModule()),
  () => import("./code/routes.ts").then((m) => m.codeModule({ channels: true })),
  () => import("./event/routes.ts").then((m) => m.eventModule()),
  () => import("./gateway/routes.ts").then((m) => m.gatewayModule()),
];

const HELP = `Usage: a3s serve [options]

Starts the a3s HTTP API (OpenAPI at /openapi.json, docs at /docs).

Options:
  --host HOST          bind address (env A3S_HOST, default 127.0.0.1)
  --port PORT          port (env A3S_PORT, default 11434)
  --home DIR           data dir (env A3S_HOME, default ~/.a3s)
  --database-url URL   postgres:// URL instead of embedded SQLite (env A3S_DATABASE_URL)
  --body-limit BYTES   largest accepted request body (env A3S_BODY_LIMIT, default 8 MiB)
  --log-level LEVEL    debug|info|warn|error|silent (env A3S_LOG_LEVEL, default info)
  --config FILE        JSON config file (env A3S_CONFIG, default <home>/config.json)
  --insecure-no-auth-on-public-bind
                       serve a non-loopback bind with no API token configured: anyone who
                       can reach the port may run commands (env A3S_INSECURE_NO_AUTH_ON_PUBLIC_BIND)
  -h, --help           show this help`;

/** Runs `serve`; resolves once the server has shut down. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    host: { type: "string" },
    port: { type: "string" },
    home: { type: "string" },
    "database-url": { type: "string" },
    "body-limit": { type: "string" },
    "log-level": { type: "string" },
    config: { type: "string" },
    "insecure-no-auth-on-public-bind": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`serve takes no arguments, got '${positionals[0]}'`);
  const modules = await Promise.all(SERVED_MODULES.map((load) => load()));
  const config = loadConfig({
    modules,
    flags: {
      host: values.host,
      port: intFlag(values, "port"),
      home: values.home,
      databaseUrl: values["database-url"],
      bodyLimit: intFlag(values, "body-limit"),
      logLevel: values["log-level"],
      config: values.config,
    },
  });
  if (values["insecure-no-auth-on-public-bind"]) {
    const security = typeof config.security === "object" ? config.security : {};
    config.security = { ...security, insecureNoAuthOnPublicBind: true };
  }
  const server = await startServer({
    config,
    modules,
    logger: createLogger(config.logLevel),
    handleSignals: true,
  });
  console.log(`a3s listening on ${server.url}`);
  await server.finished;
  return 0;
}
