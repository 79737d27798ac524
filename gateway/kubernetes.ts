/**
 * The Ingress controller: `@kubernetes/client-node` informers list, then watch, IngressClasses,
 * Ingresses, Services, EndpointSlices and TLS Secrets (resuming a dropped watch from the last
 * resource version, relisting after `410 Gone`); every change rebuilds the gateway config and
 * the certificates from them, and each served Ingress gets the gateway's address in its status.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1EndpointSlice,
  type V1Ingress,
  type V1IngressClass,
  type V1Secret,
  type V1Service,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "@a3s/common";
import type { GatewayConfig } from "./config.ts";
import type { CertificateStore } from "./certificates.ts";
import { type IngressTranslation, translateIngresses } from "./ingress_translation.ts";

/** The controller name our IngressClass declares (`spec.controller`). */
export const CONTROLLER_NAME = "a3s.dev/gateway";

/** Only TLS secrets are read: the controller has no business with any other. */
const TLS_SECRETS = "type=kubernetes.io/tls";

/** Options of {@linkcode startIngressController}. */
export interface IngressControllerOptions {
  /** How to reach the API server (in a pod: `loadFromCluster()`). */
  kubeConfig: KubeConfig;
  /** Serve Ingresses of the IngressClasses whose `spec.controller` is this. */
  controllerName?: string;
  /** Receives each new config. */
  apply: (config: GatewayConfig) => void;
  /** Receives the certificates of the TLS secrets the served Ingresses name. */
  certificates?: CertificateStore;
  /** The address written into each served Ingress's status. */
  address?: string;
  /** Wait before restarting a list-watch that failed (API server down, say). */
  retryMs?: number;
  /** Problems (missing services, bad secrets) and watch failures. */
  logger?: Logger;
}

/** A running controller. */
export interface IngressController {
  /** The latest translation of the cluster objects. */
  current(): IngressTranslation;
  /** How many lists each collection made (the first, and relists after 410 Gone). */
  lists: Record<string, number>;
  /** Stops watching. */
  close(): Promise<void>;
}

/** Starts the informers; resolves once every collection has been listed once. */
export async function startIngressController(
  options: IngressControllerOptions,
): Promise<IngressController> {
  const kc = options.kubeConfig;
  const controllerName = options.controllerName ?? CONTROLLER_NAME;
  const networking = kc.makeApiClient(NetworkingV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const lists: Record<string, number> = {};
  const counted = <T>(name: string, list: () => Promise<T>) => () => {
    lists[name] = (lists[name] ?? 0) + 1;
    return list();
  };
  const informer = <T extends KubernetesObject>(
    name: string,
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    fieldSelector?: string,
  ) =>
    new ListWatch<T>(
      path,
      new Watch(kc),
      counted(name, list) as never,
      false,
      undefined,
      fieldSelector,
    );
  const classes = informer<V1IngressClass>(
    "ingressclasses",
    "/apis/networking.k8s.io/v1/ingressclasses",
    () => networking.listIngressClass(),
  );
  const ingresses = informer<V1Ingress>(
    "ingresses",
    "/apis/networking.k8s.io/v1/ingresses",
    () => networking.listIngressForAllNamespaces(),
  );
  const services = informer<V1Service>(
    "services",
    "/api/v1/services",
    () => core.listServiceForAllNamespaces(),
  );
  const slices = informer<V1EndpointSlice>(
    "endpointslices",
    "/apis/discovery.k8s.io/v1/endpointslices",
    () => discovery.listEndpointSliceForAllNamespaces(),
  );
  const secrets = informer<V1Secret>(
    "secrets",
    "/api/v1/secrets",
    () => core.listSecretForAllNamespaces({ fieldSelector: TLS_SECRETS }),
    TLS_SECRETS,
  );
  const all: ListWatch<KubernetesObject>[] = [classes, ingresses, services, slices, secrets];

  let current = translateIngresses(
    { classes: [], ingresses: [], services: [], slices: [], secrets: [] },
    controllerName,
  );
  let reported = "";
  // Status written, by Ingress and resource version: a rebuild for another object's change
  // does not write it again, while a new version of the Ingress (its status reset) does.
  const published = new Set<string>();
  let closed = false;
  let scheduled: ReturnType<typeof setTimeout> | undefined;
  const rebuild = () => {
    scheduled = undefined;
    if (closed) return;
    current = translateIngresses({
      classes: classes.list(),
      ingresses: ingresses.list(),
      services: services.list(),
      slices: slices.list(),
      secrets: secrets.list(),
    }, controllerName);
    options.apply(current.config);
    syncCertificates(options.certificates, current, options.logger);
    const problems = current.problems.join("\n");
    if (problems && problems !== reported) {
      options.logger?.warn("ingress problems", { problems: current.problems });
    }
    reported = problems;
    if (options.address) {
      for (const ingress of current.served) {
        const meta = ingress.metadata;
        const version = `${meta?.namespace}/${meta?.name}@${meta?.resourceVersion}`;
        if (published.has(version)) continue;
        published.add(version);
        void publishStatus(networking, ingress, options.address).catch((error) => {
          published.delete(version);
          options.logger?.error("ingress status not written", { error: String(error) });
        });
      }
    }
  };
  // A list delivers its items one event at a time; rebuild once they have all arrived.
  const schedule = () => {
    scheduled ??= setTimeout(rebuild, 10);
  };
  const retryMs = options.retryMs ?? 1000;
  for (const inf of all) {
    // Failures in a row double the wait (up to 30 s), so an API server that is down for long
    // is not hammered, nor the log filled; any event from the collection resets it.
    let failures = 0;
    const progressed = () => {
      failures = 0;
      schedule();
    };
    inf.on("add", progressed);
    inf.on("update", progressed);
    inf.on("delete", progressed);
    inf.on("error", (error) => {
      if (closed) return;
      const wait = Math.min(retryMs * 2 ** failures++, 30_000);
      options.logger?.warn("kubernetes watch failed; restarting", {
        error: String(error),
        retryMs: wait,
      });
      // The informer stops on an error other than 410 Gone: start over with a fresh list.
      setTimeout(() => {
        if (!closed) inf.start().catch(() => {});
      }, wait);
    });
  }
  await Promise.all(all.map((inf) => inf.start()));
  rebuild();
  return {
    current: () => current,
    lists,
    async close() {
      closed = true;
      clearTimeout(scheduled);
      await Promise.all(all.map((inf) => inf.stop()));
    },
  };
}

/** Puts the translation's certificates in the store and drops secrets no longer named. */
function syncCertificates(
  store: CertificateStore | undefined,
  translation: IngressTranslation,
  logger: Logger | undefined,
): void {
  if (!store) return;
  for (const [id, pair] of translation.certificates) {
    const before = store.entries().find((e) => e.id === id);
    if (before?.cert === pair.cert && before.key === pair.key) continue;
    try {
      store.set(id, pair);
    } catch (error) {
      logger?.error("tls secret not usable", { error: (error as Error).message });
    }
  }
  for (const entry of store.entries()) {
    if (entry.id.startsWith("secret:") && !translation.certificates.has(entry.id)) {
      store.delete(entry.id);
    }
  }
}

/** Writes `address` into the Ingress's status unless it is already there. */
async function publishStatus(
  api: NetworkingV1Api,
  ingress: V1Ingress,
  address: string,
): Promise<void> {
  const isIp = /^[\d.]+$|:/.test(address);
  const entry = isIp ? { ip: address } : { hostname: address };
  const now = ingress.status?.loadBalancer?.ingress ?? [];
  if (now.length === 1 && (isIp ? now[0].ip : now[0].hostname) === address) return;
  await api.patchNamespacedIngressStatus(
    {
      name: ingress.metadata!.name!,
      namespace: ingress.metadata?.namespace ?? "default",
      body: { status: { loadBalancer: { ingress: [entry] } } },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}
