/**
 * `a3s gateway`: run the reverse proxy from a config file, check a file, hash a secret. Each
 * command loads what it needs when it runs (`run` the server, the Kubernetes and ACME clients;
 * `routes` the router), so `--help`, `check` and `hash` start in a fraction of the time.
 */
import {
  FORMAT_HELP,
  FORMAT_OPTIONS,
  importOnDemand,
  outputFormat,
  parseCommand,
  printFormatted,
  readStdin,
  renderTable,
  runCommand,
} from "@a3s/common/cli";
import { UsageError } from "@a3s/common/errors";
import { hashSecret } from "./hash.ts";

/** One of this folder's modules, imported when a command needs it. */
function lazy<T>(path: string): Promise<T> {
  return importOnDemand<T>(path, import.meta.url);
}

const HELP = `Usage: a3s gateway <command> [options]

Commands:
  run --config FILE      serve the routers in FILE (YAML or JSON), reloading it on change
  run --kubernetes [URL] be an Ingress controller: routers from Ingresses, Services and
                         EndpointSlices; certificates from their TLS secrets
  check FILE             validate FILE; errors name the file, the key and the line
  routes FILE            list FILE's routers in the order they are tried
  hash [SECRET|-]        print the sha256:<hex> form of an API key or password for the config

Options:
  --config FILE          run: the config file
  --controller-name N    run --kubernetes: serve IngressClasses whose spec.controller is N
                         (default a3s.dev/gateway); their TLS secrets feed HTTPS by SNI
  --publish-address A    run --kubernetes: the address written to each Ingress's status
  --host HOST            run: listen address (default 127.0.0.1)
  --port PORT            run: listen port (default 8080)
  --cert FILE --key FILE run: serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM pair
  --certs DIR            run: HTTPS with a certificate per host name (SNI): each NAME.crt with
                         its NAME.key in DIR; DIR is watched, changes apply without a restart
  --acme-domain NAME     run: obtain and renew a certificate for NAME by ACME HTTP-01 (repeat
                         for more names); challenges are answered on --port
  --acme-directory URL   run: the ACME directory (default Let's Encrypt's)
  --acme-email ADDR      run: the ACME account's contact
  --data-dir DIR         run: where ACME keys and certificates are kept (default
                         $A3S_HOME/gateway/acme)
  --https-port PORT      run: with --certs or --acme-domain, HTTPS here and plain HTTP on --port
  --database-url URL     run: PostgreSQL for rate limits shared between gateway processes
  --log-level LEVEL      run: debug, info, warn, error or silent (default info; access log at info)
${FORMAT_HELP}
  -h, --help             show this help`;

const OPTIONS = {
  ...FORMAT_OPTIONS,
  config: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  certs: { type: "string" },
  "acme-domain": { type: "string", multiple: true },
  "acme-directory": { type: "string" },
  "acme-email": { type: "string" },
  "data-dir": { type: "string" },
  "https-port": { type: "string" },
  "log-level": { type: "string" },
  "database-url": { type: "string" },
  kubernetes: { type: "boolean" },
  "controller-name": { type: "string" },
  "publish-address": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `a3s gateway` with `args` and returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    const [command, ...rest] = positionals;
    if (values.help || command === "help") {
      console.log(HELP);
      return 0;
    }
    switch (command) {
      case "run":
        return await (await lazy<typeof import("./cli_run.ts")>("./cli_run.ts"))
          .run({ ...values, positionalApi: rest[0] });
      case "check": {
        const { loadConfigFile } = await lazy<typeof import("./cli_config.ts")>("./cli_config.ts");
        const config = await loadConfigFile(
          rest[0] ?? (values.config as string | undefined),
          "check",
        );
        const routers = Object.keys(config.routers).length;
        const services = Object.keys(config.services).length;
        console.log(`${rest[0] ?? values.config}: ok (${routers} routers, ${services} services)`);
        return 0;
      }
      case "routes": {
        const format = outputFormat(values);
        const { loadConfigFile } = await lazy<typeof import("./cli_config.ts")>("./cli_config.ts");
        const { Gateway } = await lazy<typeof import("./gateway.ts")>("./gateway.ts");
        const gateway = new Gateway(
          await loadConfigFile(rest[0] ?? (values.config as string | undefined), "routes"),
        );
        try {
          const routers = gateway.routers();
          printFormatted(format, routers, () =>
            renderTable(
              ["NAME", "PRIORITY", "SERVICE", "RULE"],
              routers.map((r) => [r.name, String(r.priority), r.service, JSON.stringify(r.rule)]),
              "no routers",
            ));
        } finally {
          gateway.close();
        }
        return 0;
      }
      case "hash": {
        const secret = rest[0] === undefined || rest[0] === "-"
          ? (await readStdin()).replace(/\r?\n$/, "")
          : rest[0];
        if (!secret) throw new UsageError("hash needs a non-empty secret");
        console.log(await hashSecret(secret));
        return 0;
      }
      case undefined:
        console.log(HELP);
        return 2;
      default:
        throw new UsageError(`unknown gateway command '${command}'; run with --help`);
    }
  });
}
