/** `a3s gateway`: run the reverse proxy from a config file, check a file, hash a secret. */
import {
  createLogger,
  defaultHome,
  FORMAT_HELP,
  FORMAT_OPTIONS,
  intFlag,
  type Logger,
  type LogLevel,
  openStore,
  outputFormat,
  parseCommand,
  printFormatted,
  readStdin,
  renderTable,
  runCommand,
  UsageError,
} from "@a3s/common";
import { GatewayConfigError, loadGatewayConfigFile } from "./config_file.ts";
import { Gateway } from "./gateway.ts";
import { hashSecret } from "./hash.ts";
import { startGateway } from "./server.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { CONTROLLER_NAME, startIngressController } from "./kubernetes.ts";
import { AcmeChallenges } from "./acme_challenges.ts";
import { AcmeManager } from "./acme.ts";
import { CertificateStore } from "./certificates.ts";
import { watchCertificateDir } from "./certificate_files.ts";

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

const LEVELS: readonly string[] = ["debug", "info", "warn", "error", "silent"];

async function load(file: string | undefined, what: string) {
  if (!file) throw new UsageError(`${what} needs a config file`);
  try {
    return await loadGatewayConfigFile(file);
  } catch (error) {
    // A bad file is bad input: one line, exit code 2.
    if (error instanceof GatewayConfigError) throw new UsageError(error.message);
    throw error;
  }
}

async function run(values: Record<string, unknown>): Promise<number> {
  const level = (values["log-level"] as string | undefined) ?? "info";
  if (!LEVELS.includes(level)) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  }
  const file = values.config as string | undefined;
  const kubernetes = values.kubernetes === true;
  if (!kubernetes) await load(file, "run");
  else if (file) throw new UsageError("--kubernetes and --config exclude each other");
  const cert = values.cert as string | undefined;
  const key = values.key as string | undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  const tls = cert && key
    ? { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) }
    : undefined;
  const logger = createLogger(level as LogLevel, { module: "gateway" });
  const sni = await certificateSources(values, logger);
  // Bad API settings are usage errors, found before anything listens.
  const kube = kubernetes ? kubeConfig(values.positionalApi as string | undefined) : undefined;
  if (sni && tls) throw new UsageError("--cert/--key and --certs/--acme-domain exclude each other");
  const databaseUrl = values["database-url"] as string | undefined;
  const store = databaseUrl ? await openStore({ databaseUrl }) : undefined;
  const running = await startGateway({
    store,
    configFile: file,
    config: kubernetes
      ? { routers: {}, services: {}, middlewares: {}, trustedProxies: [] }
      : undefined,
    hostname: (values.host as string | undefined) ?? "127.0.0.1",
    port: intFlag(values as Record<string, string>, "port") ?? 8080,
    tls,
    certificates: sni?.store,
    httpsPort: sni ? intFlag(values as Record<string, string>, "https-port") : undefined,
    acmeChallenges: sni?.challenges,
    logger,
    // Access lines are info: at a quieter level, do not even build them.
    accessLog: level === "debug" || level === "info",
  });
  logger.info("gateway listening", {
    host: running.hostname,
    port: running.port,
    httpsPort: running.httpsPort,
    config: file,
  });
  // Orders wait for the listener: the CA validates challenges against it.
  await sni?.acme?.start();
  const controller = kube
    ? await ingressController(values, kube, running.gateway, sni?.store, logger)
    : undefined;
  const stop = new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await stop;
  await controller?.close();
  sni?.close();
  await running.close();
  await store?.close();
  return 0;
}

/**
 * The certificate store behind --certs, --acme-domain and (with --https-port) --kubernetes, or
 * undefined when none is given.
 * ACME orders start later, once the listener that answers challenges is up.
 */
async function certificateSources(values: Record<string, unknown>, logger: Logger) {
  const dir = values.certs as string | undefined;
  const domains = (values["acme-domain"] as string[] | undefined) ?? [];
  // An Ingress controller serves HTTPS from its Ingresses' TLS secrets, given a port for it.
  const fromSecrets = values.kubernetes === true && values["https-port"] !== undefined;
  if (!dir && !domains.length && !fromSecrets) {
    if (values["https-port"] !== undefined) {
      throw new UsageError("--https-port needs --certs, --acme-domain or --kubernetes");
    }
    return undefined;
  }
  for (const domain of domains) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(domain)) {
      throw new UsageError(`--acme-domain must be a DNS name, got '${domain}'`);
    }
  }
  const store = new CertificateStore();
  const challenges = new AcmeChallenges();
  const stopWatching = dir ? await watchCertificateDir(dir, store, logger) : undefined;
  const acme = domains.length
    ? new AcmeManager({
      directoryUrl: (values["acme-directory"] as string | undefined) ??
        "https://acme-v02.api.letsencrypt.org/directory",
      domains,
      email: values["acme-email"] as string | undefined,
      dataDir: (values["data-dir"] as string | undefined) ?? `${defaultHome()}/gateway/acme`,
      store,
      challenges,
      logger,
    })
    : undefined;
  return {
    store,
    challenges,
    acme,
    close() {
      stopWatching?.();
      acme?.close();
    },
  };
}

/**
 * How to reach the API server: the URL given (a local or proxied API server, with
 * `$KUBERNETES_TOKEN` as the bearer token when set), else the pod's service account, else the
 * kubeconfig (`$KUBECONFIG` or ~/.kube/config).
 */
function kubeConfig(url: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (url) {
    if (!/^https?:\/\//.test(url)) {
      throw new UsageError(`--kubernetes URL must be http(s), got '${url}'`);
    }
    kc.loadFromOptions({
      // client-node refuses plain http unless TLS verification is marked off; there is no TLS.
      clusters: [{ name: "api", server: url, skipTLSVerify: url.startsWith("http:") }],
      users: [{ name: "gateway", token: Deno.env.get("KUBERNETES_TOKEN") }],
      contexts: [{ name: "gateway", cluster: "api", user: "gateway" }],
      currentContext: "gateway",
    });
  } else if (Deno.env.get("KUBERNETES_SERVICE_HOST")) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
    if (!kc.getCurrentCluster()) {
      throw new UsageError("--kubernetes needs an API server URL, a pod or a kubeconfig");
    }
  }
  return kc;
}

/** Starts the Ingress controller against the API server in the cluster (or the one given). */
function ingressController(
  values: Record<string, unknown>,
  kube: KubeConfig,
  gateway: Gateway,
  certificates: CertificateStore | undefined,
  logger: Logger,
) {
  return startIngressController({
    kubeConfig: kube,
    controllerName: (values["controller-name"] as string | undefined) ?? CONTROLLER_NAME,
    address: values["publish-address"] as string | undefined,
    certificates,
    logger,
    apply: (config) => {
      try {
        gateway.apply(config);
      } catch (error) {
        logger.error("ingress config rejected", { error: (error as Error).message });
      }
    },
  });
}

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
        return await run({ ...values, positionalApi: rest[0] });
      case "check": {
        const config = await load(rest[0] ?? (values.config as string | undefined), "check");
        const routers = Object.keys(config.routers).length;
        const services = Object.keys(config.services).length;
        console.log(`${rest[0] ?? values.config}: ok (${routers} routers, ${services} services)`);
        return 0;
      }
      case "routes": {
        const format = outputFormat(values);
        const gateway = new Gateway(
          await load(rest[0] ?? (values.config as string | undefined), "routes"),
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
