/**
 * The Ingress controller's core: `networking.k8s.io/v1` Ingresses of our class and
 * `discovery.k8s.io/v1` EndpointSlices become routers and services, and a list-then-watch loop
 * keeps them current through the API server's resource versions: a dropped watch resumes from
 * the last version seen, and `410 Gone` (the version is too old) forces a fresh list.
 */
import type { GatewayConfig, RouterConfig, ServiceConfig } from "./config.ts";

/** The parts of an Ingress the controller reads. */
export interface Ingress {
  /** Name, namespace and version. */
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  /** Class and rules. */
  spec: {
    ingressClassName?: string;
    rules?: {
      host?: string;
      http?: {
        paths: {
          path?: string;
          pathType: string;
          backend: { service?: { name: string; port: { number?: number; name?: string } } };
        }[];
      };
    }[];
  };
}

/** The parts of an EndpointSlice the controller reads. */
export interface EndpointSlice {
  /** Name, namespace, version and the owning service's label. */
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  /** The addresses behind the service. */
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  /** The ports, by name. */
  ports?: { name?: string; port?: number }[];
}

/**
 * Builds a gateway config from the Ingresses of `className` and the EndpointSlices: one router
 * per host and path, one service per backend service and port, with the ready endpoints as
 * backends. A backend with no ready endpoint gets no router (requests get 404, not 503 storms).
 */
export function ingressConfig(
  className: string,
  ingresses: readonly Ingress[],
  slices: readonly EndpointSlice[],
): GatewayConfig {
  const routers: Record<string, RouterConfig> = {};
  const services: Record<string, ServiceConfig> = {};
  for (const ingress of ingresses) {
    if (ingress.spec.ingressClassName !== className) continue;
    const ns = ingress.metadata.namespace ?? "default";
    (ingress.spec.rules ?? []).forEach((rule, r) => {
      (rule.http?.paths ?? []).forEach((p, i) => {
        const svc = p.backend.service;
        if (!svc) return;
        const portKey = svc.port.name ?? String(svc.port.number);
        const serviceName = `${ns}/${svc.name}:${portKey}`;
        const urls = slices
          .filter((s) =>
            (s.metadata.namespace ?? "default") === ns &&
            s.metadata.labels?.["kubernetes.io/service-name"] === svc.name
          )
          .flatMap((s) => {
            // Slices carry target ports under the service port's name; a port given by number
            // is resolved only when the slice has a single port (no Service lookup).
            const port = svc.port.name
              ? s.ports?.find((sp) => sp.name === svc.port.name)?.port
              : s.ports?.length === 1
              ? s.ports[0].port
              : undefined;
            if (!port) {
              return [];
            }
            return (s.endpoints ?? [])
              .filter((e) => e.conditions?.ready !== false)
              .flatMap((e) =>
                e.addresses.map((a) => `http://${a.includes(":") ? `[${a}]` : a}:${port}`)
              );
          });
        if (!urls.length) return;
        services[serviceName] = {
          backends: [...new Set(urls)].map((url) => ({ url, weight: 1, local: false })),
          loadBalancer: { strategy: "round-robin" },
          circuitBreaker: { failures: 3, openMs: 10_000 },
          timeoutMs: 30_000,
          retries: 1,
          // Applications behind an Ingress expect the Host the client asked for.
          preserveHost: true,
        };
        const path = p.path || "/";
        routers[`${ns}/${ingress.metadata.name}/${r}/${i}`] = {
          rule: {
            ...(rule.host ? { hosts: [rule.host] } : {}),
            ...(p.pathType === "Exact" ? { path: [path] } : { pathPrefix: [path] }),
          },
          service: serviceName,
          middlewares: [],
          priority: 0,
        };
      });
    });
  }
  return { routers, services, middlewares: {}, trustedProxies: [] };
}

interface ListBody<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; metadata?: { resourceVersion?: string } };
}

/** Keeps a live copy of one resource collection by list-then-watch. */
export class Informer<T extends { metadata: { name: string; namespace?: string } }> {
  /** The objects, by namespace/name. */
  readonly objects: Map<string, T> = new Map();
  /** How many times it listed (the first list, and relists after 410 Gone). */
  lists = 0;
  #version = "";
  readonly #api: string;
  readonly #path: string;
  readonly #onChange: () => void;
  readonly #headers: HeadersInit;
  readonly #client?: Deno.HttpClient;

  /** `api` is the API server's base URL, `path` the collection (`/apis/.../ingresses`). */
  constructor(
    api: string,
    path: string,
    onChange: () => void,
    token?: string,
    client?: Deno.HttpClient,
  ) {
    this.#client = client;
    this.#api = api.replace(/\/$/, "");
    this.#path = path;
    this.#onChange = onChange;
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  static #key(o: { metadata: { name: string; namespace?: string } }): string {
    return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  }

  /** Lists the collection and replaces the copy. */
  async list(signal?: AbortSignal): Promise<void> {
    const res = await fetch(`${this.#api}${this.#path}`, {
      headers: this.#headers,
      signal,
      client: this.#client,
    });
    if (!res.ok) throw new Error(`list ${this.#path}: ${res.status}`);
    const body = await res.json() as ListBody<T>;
    this.objects.clear();
    for (const item of body.items) this.objects.set(Informer.#key(item), item);
    this.#version = body.metadata.resourceVersion;
    this.lists++;
    this.#onChange();
  }

  /**
   * Watches from the last version until the stream ends; returns "gone" when the server says
   * the version is too old (the caller relists) and "ended" when the stream just closed.
   */
  async watch(signal?: AbortSignal): Promise<"gone" | "ended"> {
    const url = `${this.#api}${this.#path}?watch=1&allowWatchBookmarks=true&resourceVersion=${
      encodeURIComponent(this.#version)
    }`;
    const res = await fetch(url, { headers: this.#headers, signal, client: this.#client });
    if (res.status === 410) {
      await res.body?.cancel();
      return "gone";
    }
    if (!res.ok || !res.body) throw new Error(`watch ${this.#path}: ${res.status}`);
    let buffer = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === "ERROR") {
          if (event.object.code === 410) return "gone";
          throw new Error(`watch ${this.#path}: ${JSON.stringify(event.object)}`);
        }
        const version = event.object.metadata?.resourceVersion;
        if (version) this.#version = version;
        if (event.type === "BOOKMARK") continue;
        const key = Informer.#key(event.object);
        if (event.type === "DELETED") this.objects.delete(key);
        else this.objects.set(key, event.object);
        this.#onChange();
      }
    }
    return "ended";
  }

  /** Lists, then watches forever: resumes after a dropped stream, relists after 410 Gone. */
  async run(signal: AbortSignal, retryMs = 1000): Promise<void> {
    let listed = false;
    while (!signal.aborted) {
      try {
        if (!listed) {
          await this.list(signal);
          listed = true;
        }
        if (await this.watch(signal) === "gone") listed = false;
      } catch {
        if (signal.aborted) return;
        // The API server is unreachable or refused: back off, then start over with a list.
        listed = false;
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }
}

/** Options of {@linkcode startIngressController}. */
export interface IngressControllerOptions {
  /** The API server's base URL. */
  api: string;
  /** The IngressClass name this gateway serves. */
  className: string;
  /** Receives each new config. */
  apply: (config: GatewayConfig) => void;
  /** A bearer token (the service account's). */
  token?: string;
  /** An HTTP client trusting the cluster's CA. */
  client?: Deno.HttpClient;
  /** The address written into each served Ingress's status. */
  address?: string;
  /** Back-off after a failed list or watch. */
  retryMs?: number;
}

/** A running controller. */
export interface IngressController {
  /** The Ingress and EndpointSlice informers. */
  ingresses: Informer<Ingress>;
  /** The EndpointSlice informer. */
  slices: Informer<EndpointSlice>;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * Watches Ingresses and EndpointSlices and applies the config they describe on every change;
 * each served Ingress gets `address` in its status once.
 */
export function startIngressController(options: IngressControllerOptions): IngressController {
  const stop = new AbortController();
  const published = new Set<string>();
  const rebuild = () => {
    const config = ingressConfig(
      options.className,
      [...ingresses.objects.values()],
      [...slices.objects.values()],
    );
    options.apply(config);
    if (options.address) {
      for (const ingress of ingresses.objects.values()) {
        if (ingress.spec.ingressClassName !== options.className) continue;
        const key = `${ingress.metadata.namespace}/${ingress.metadata.name}`;
        if (published.has(key)) continue;
        published.add(key);
        void publishStatus(options, ingress, stop.signal).catch(() => published.delete(key));
      }
    }
  };
  const ingresses = new Informer<Ingress>(
    options.api,
    "/apis/networking.k8s.io/v1/ingresses",
    rebuild,
    options.token,
    options.client,
  );
  const slices = new Informer<EndpointSlice>(
    options.api,
    "/apis/discovery.k8s.io/v1/endpointslices",
    rebuild,
    options.token,
    options.client,
  );
  const loops = [
    ingresses.run(stop.signal, options.retryMs),
    slices.run(stop.signal, options.retryMs),
  ];
  return {
    ingresses,
    slices,
    async close() {
      stop.abort();
      await Promise.allSettled(loops);
    },
  };
}

async function publishStatus(
  options: IngressControllerOptions,
  ingress: Ingress,
  signal: AbortSignal,
): Promise<void> {
  const ns = ingress.metadata.namespace ?? "default";
  const isIp = /^[\d.]+$|:/.test(options.address!);
  const res = await fetch(
    `${
      options.api.replace(/\/$/, "")
    }/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${ingress.metadata.name}/status`,
    {
      method: "PATCH",
      signal,
      client: options.client,
      headers: {
        "content-type": "application/merge-patch+json",
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: JSON.stringify({
        status: {
          loadBalancer: {
            ingress: [isIp ? { ip: options.address } : { hostname: options.address }],
          },
        },
      }),
    },
  );
  await res.body?.cancel();
  if (!res.ok) throw new Error(`status of ${ns}/${ingress.metadata.name}: ${res.status}`);
}
