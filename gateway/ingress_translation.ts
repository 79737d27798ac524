/**
 * What the cluster says, as a gateway config: the Ingresses whose IngressClass names our
 * controller become routers; their backends resolve through the Service (a port by number or
 * name) to the ready endpoints of its EndpointSlices, or to its cluster IP when it has no
 * slices; the TLS secrets they name become certificates. Pure: the controller feeds it the
 * informers' caches and applies the result.
 */
import type {
  V1EndpointSlice,
  V1Ingress,
  V1IngressBackend,
  V1IngressClass,
  V1Secret,
  V1Service,
} from "@kubernetes/client-node";
import type { GatewayConfig, RouterConfig, ServiceConfig } from "./config.ts";
import type { CertifiedKey } from "./certificates.ts";

/** The cluster objects the controller watches. */
export interface ClusterObjects {
  /** networking.k8s.io/v1 IngressClasses. */
  classes: readonly V1IngressClass[];
  /** networking.k8s.io/v1 Ingresses. */
  ingresses: readonly V1Ingress[];
  /** v1 Services. */
  services: readonly V1Service[];
  /** discovery.k8s.io/v1 EndpointSlices. */
  slices: readonly V1EndpointSlice[];
  /** v1 Secrets of type kubernetes.io/tls. */
  secrets: readonly V1Secret[];
}

/** The translation of the cluster objects. */
export interface IngressTranslation {
  /** Routers and services. */
  config: GatewayConfig;
  /** Certificates from the TLS secrets our Ingresses name, by `secret:<ns>/<name>`. */
  certificates: Map<string, CertifiedKey>;
  /** The Ingresses this controller serves. */
  served: V1Ingress[];
  /** What could not be used, one line each (a missing service, port or secret). */
  problems: string[];
}

const DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class";

const key = (ns: string | undefined, name: string | undefined) => `${ns ?? "default"}/${name}`;

/** The names of the IngressClasses of `controller`, and whether one of them is the default. */
function ourClasses(classes: readonly V1IngressClass[], controller: string) {
  const names = new Set<string>();
  let isDefault = false;
  for (const c of classes) {
    if (c.spec?.controller !== controller || !c.metadata?.name) continue;
    names.add(c.metadata.name);
    if (c.metadata.annotations?.[DEFAULT_CLASS] === "true") isDefault = true;
  }
  return { names, isDefault };
}

function hostPort(address: string, port: number): string {
  return `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** Resolves an Ingress backend to URLs, or explains why it cannot. */
function backendUrls(
  ns: string,
  backend: V1IngressBackend,
  services: Map<string, V1Service>,
  slices: readonly V1EndpointSlice[],
): { id: string; urls: string[] } | string {
  const ref = backend.service;
  if (!ref) return "only service backends are supported";
  const id = `${ns}/${ref.name}:${ref.port?.name ?? ref.port?.number}`;
  const service = services.get(key(ns, ref.name));
  if (!service) return `${id}: no such Service`;
  const port = service.spec?.ports?.find((p) =>
    ref.port?.name !== undefined ? p.name === ref.port.name : p.port === ref.port?.number
  );
  if (!port) return `${id}: the Service has no such port`;
  if (service.spec?.type === "ExternalName" && service.spec.externalName) {
    return { id, urls: [hostPort(service.spec.externalName, port.port)] };
  }
  const own = slices.filter((s) =>
    (s.metadata?.namespace ?? "default") === ns &&
    s.metadata?.labels?.["kubernetes.io/service-name"] === ref.name
  );
  if (!own.length) {
    // No slices (a Service without a selector, say): kube-proxy's cluster IP still routes.
    const ip = service.spec?.clusterIP;
    return ip && ip !== "None" ? { id, urls: [hostPort(ip, port.port)] } : `${id}: no endpoints`;
  }
  const urls = own.flatMap((s) => {
    // A slice names its ports after the Service's ports ("" for an unnamed single port).
    const target = s.ports?.find((p) => (p.name ?? "") === (port.name ?? ""))?.port;
    if (!target) return [];
    return (s.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false)
      .flatMap((e) => e.addresses.map((a) => hostPort(a, target)));
  });
  return { id, urls: [...new Set(urls)] };
}

function serviceConfig(urls: string[]): ServiceConfig {
  return {
    backends: urls.map((url) => ({ url, weight: 1, local: false })),
    loadBalancer: { strategy: "round-robin" },
    circuitBreaker: { failures: 3, openMs: 10_000 },
    timeoutMs: 30_000,
    retries: 1,
    // Applications behind an Ingress expect the Host the client asked for.
    preserveHost: true,
  };
}

function tlsPair(secret: V1Secret | undefined): CertifiedKey | undefined {
  const cert = secret?.data?.["tls.crt"];
  const key = secret?.data?.["tls.key"];
  if (secret?.type !== "kubernetes.io/tls" || !cert || !key) return undefined;
  const decode = (b64: string) =>
    new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  return { cert: decode(cert), key: decode(key) };
}

/** Translates the cluster objects for the controller named `controller`. */
export function translateIngresses(
  objects: ClusterObjects,
  controller: string,
): IngressTranslation {
  const classes = ourClasses(objects.classes, controller);
  const services = new Map(
    objects.services.map((s) => [key(s.metadata?.namespace, s.metadata?.name), s]),
  );
  const secrets = new Map(
    objects.secrets.map((s) => [key(s.metadata?.namespace, s.metadata?.name), s]),
  );
  const routers: Record<string, RouterConfig> = {};
  const serviceConfigs: Record<string, ServiceConfig> = {};
  const certificates = new Map<string, CertifiedKey>();
  const served: V1Ingress[] = [];
  const problems: string[] = [];
  for (const ingress of objects.ingresses) {
    const className = ingress.spec?.ingressClassName;
    const ours = className !== undefined ? classes.names.has(className) : classes.isDefault;
    if (!ours) continue;
    served.push(ingress);
    const ns = ingress.metadata?.namespace ?? "default";
    const name = `${ns}/${ingress.metadata?.name}`;
    const route = (
      id: string,
      backend: V1IngressBackend,
      rule: RouterConfig["rule"],
      priority: number,
    ) => {
      const resolved = backendUrls(ns, backend, services, objects.slices);
      if (typeof resolved === "string") return problems.push(`${name}: ${resolved}`);
      // A backend with no ready endpoint gets no router: requests get 404, not 503 storms.
      if (!resolved.urls.length) {
        return problems.push(`${name}: ${resolved.id}: no ready endpoints`);
      }
      serviceConfigs[resolved.id] = serviceConfig(resolved.urls);
      routers[id] = { rule, service: resolved.id, middlewares: [], priority };
    };
    (ingress.spec?.rules ?? []).forEach((rule, r) => {
      (rule.http?.paths ?? []).forEach((p, i) => {
        const path = p.path || "/";
        route(`${name}/${r}/${i}`, p.backend, {
          ...(rule.host ? { hosts: [rule.host] } : {}),
          ...(p.pathType === "Exact" ? { path: [path] } : { pathPrefix: [path] }),
        }, 0);
      });
    });
    // The default backend takes what no rule matched, so it ranks below every rule.
    if (ingress.spec?.defaultBackend) route(`${name}/default`, ingress.spec.defaultBackend, {}, -1);
    for (const tls of ingress.spec?.tls ?? []) {
      if (!tls.secretName) continue;
      const pair = tlsPair(secrets.get(key(ns, tls.secretName)));
      if (pair) certificates.set(`secret:${ns}/${tls.secretName}`, pair);
      else problems.push(`${name}: ${ns}/${tls.secretName}: no kubernetes.io/tls secret`);
    }
  }
  return {
    config: { routers, services: serviceConfigs, middlewares: {}, trustedProxies: [] },
    certificates,
    served,
    problems,
  };
}
