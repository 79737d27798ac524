/**
 * `a3s gateway run`: the proxy from a config file or as a Kubernetes Ingress controller, with
 * its certificates (files, a watched directory, ACME). Imported only for `run`, so that `--help`,
 * `check` and `hash` start without the server, the Kubernetes client and the ACME client.
 */
import {
  createLogger,
  defaultHome,
  intFlag,
  type Logger,
  type LogLevel,
  openStore,
  UsageError,
} from "@a3s/common";
import type { Gateway } from "./gateway.ts";
import { startGateway } from "./server.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { CONTROLLER_NAME, startIngressController } from "./kubernetes.ts";
import { AcmeChallenges } from "./acme_challenges.ts";
import { AcmeManager } from "./acme.ts";
import { CertificateStore } from "./certificates.ts";
import { watchCertificateDir } from "./certificate_files.ts";
import { loadConfigFile } from "./cli_config.ts";

const LEVELS: readonly string[] = ["debug", "info", "warn", "error", "silent"];

/** Runs `a3s gateway run` with its parsed option values. */
export async function run(values: Record<string, unknown>): Promise<number> {
  const level = (values["log-level"] as string | undefined) ?? "info";
  if (!LEVELS.includes(level)) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  }
  const file = values.config as string | undefined;
  const kubernetes = values.kubernetes === true;
  if (!kubernetes) await loadConfigFile(file, "run");
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
