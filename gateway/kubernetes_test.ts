import { assert, assertEquals } from "@a3s/common/testing";
import { KubeConfig, type V1Ingress } from "@kubernetes/client-node";
import { startIngressController } from "./kubernetes.ts";
import { translateIngresses } from "./ingress_translation.ts";
import { CertificateStore } from "./certificates.ts";
import { getWithHost, startBackend } from "./_test_support.ts";
import { makeCa } from "./_test_pki.ts";
import { startGateway } from "./server.ts";

// Objects in the API's list and watch formats (networking.k8s.io/v1, discovery.k8s.io/v1, v1),
// as the Kubernetes API reference records them.
const classes = {
  kind: "IngressClassList",
  apiVersion: "networking.k8s.io/v1",
  metadata: { resourceVersion: "10" },
  items: [
    { metadata: { name: "a3s", resourceVersion: "5" }, spec: { controller: "a3s.dev/gateway" } },
    {
      metadata: {
        name: "nginx",
        resourceVersion: "6",
        annotations: { "ingressclass.kubernetes.io/is-default-class": "true" },
      },
      spec: { controller: "k8s.io/ingress-nginx" },
    },
  ],
};

function ingress(name: string, className: string | undefined, spec: Record<string, unknown>) {
  return {
    metadata: { name, namespace: "shop", resourceVersion: "90", uid: `uid-${name}` },
    spec: { ...(className ? { ingressClassName: className } : {}), ...spec },
    status: { loadBalancer: {} },
  };
}

const prefix = (path: string, service: string, port: Record<string, unknown>) => ({
  path,
  pathType: "Prefix",
  backend: { service: { name: service, port } },
});

const ingresses = {
  kind: "IngressList",
  apiVersion: "networking.k8s.io/v1",
  metadata: { resourceVersion: "100" },
  items: [
    ingress("web", "a3s", {
      tls: [{ hosts: ["shop.example.com"], secretName: "shop-tls" }],
      rules: [{
        host: "shop.example.com",
        http: {
          paths: [prefix("/api", "api", { number: 80 }), {
            path: "/static",
            pathType: "Exact",
            backend: { service: { name: "static", port: { name: "web" } } },
          }],
        },
      }],
    }),
    // The default class is nginx's, so an Ingress without a class is not ours.
    ingress("classless", undefined, {
      rules: [{ http: { paths: [prefix("/", "api", { number: 80 })] } }],
    }),
    ingress("other", "nginx", {
      rules: [{ http: { paths: [prefix("/", "api", { number: 80 })] } }],
    }),
  ],
};

function services(staticPort: number) {
  return {
    kind: "ServiceList",
    apiVersion: "v1",
    metadata: { resourceVersion: "40" },
    items: [
      {
        metadata: { name: "api", namespace: "shop", resourceVersion: "30" },
        spec: {
          type: "ClusterIP",
          clusterIP: "10.96.0.10",
          ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
        },
      },
      {
        // No selector, so no EndpointSlices: traffic goes to the cluster IP.
        metadata: { name: "static", namespace: "shop", resourceVersion: "31" },
        spec: {
          type: "ClusterIP",
          clusterIP: "127.0.0.1",
          ports: [{ name: "web", port: staticPort, protocol: "TCP" }],
        },
      },
    ],
  };
}

function slice(rv: string, port: number) {
  return {
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
    metadata: {
      name: "api-x7k2p",
      namespace: "shop",
      resourceVersion: rv,
      labels: { "kubernetes.io/service-name": "api" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true, serving: true } }],
    ports: [{ name: "http", port, protocol: "TCP" }],
  };
}

function tlsSecret(cert: string, key: string) {
  return {
    kind: "SecretList",
    apiVersion: "v1",
    metadata: { resourceVersion: "60" },
    items: [{
      metadata: { name: "shop-tls", namespace: "shop", resourceVersion: "55" },
      type: "kubernetes.io/tls",
      data: { "tls.crt": btoa(cert), "tls.key": btoa(key) },
    }],
  };
}

Deno.test("IngressClasses pick our Ingresses; Service ports resolve to endpoints or the cluster IP", () => {
  const t = translateIngresses({
    classes: classes.items,
    ingresses: ingresses.items as V1Ingress[],
    services: services(9001).items,
    slices: [slice("1", 9000)],
    secrets: [],
  }, "a3s.dev/gateway");
  assertEquals(t.served.map((i) => i.metadata?.name), ["web"]);
  assertEquals(t.config.routers["shop/web/0/0"].rule, {
    hosts: ["shop.example.com"],
    pathPrefix: ["/api"],
  });
  assertEquals(t.config.routers["shop/web/0/1"].rule, {
    hosts: ["shop.example.com"],
    path: ["/static"],
  });
  assertEquals(t.config.services["shop/api:80"].backends.map((b) => b.url), [
    "http://127.0.0.1:9000",
  ]);
  assertEquals(t.config.services["shop/api:80"].preserveHost, true);
  assertEquals(t.config.services["shop/static:web"].backends.map((b) => b.url), [
    "http://127.0.0.1:9001",
  ]);
  assertEquals(t.problems, ["shop/web: shop/shop-tls: no kubernetes.io/tls secret"]);
  const notReady = {
    ...slice("2", 9000),
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: false } }],
  };
  const none = translateIngresses({
    classes: classes.items,
    ingresses: ingresses.items as V1Ingress[],
    services: services(9001).items.slice(0, 1),
    slices: [notReady],
    secrets: [],
  }, "a3s.dev/gateway");
  assertEquals(Object.keys(none.config.routers), []);
  assert(none.problems.includes("shop/web: shop/api:80: no ready endpoints"), none.problems.join());
  assert(none.problems.includes("shop/web: shop/static:web: no such Service"));
  // A default IngressClass of ours takes the Ingresses that name no class.
  const defaulted = translateIngresses({
    classes: [{ ...classes.items[1], spec: { controller: "a3s.dev/gateway" } }],
    ingresses: ingresses.items as V1Ingress[],
    services: services(9001).items,
    slices: [slice("1", 9000)],
    secrets: [],
  }, "a3s.dev/gateway");
  assertEquals(defaulted.served.map((i) => i.metadata?.name), ["classless", "other"]);
});

Deno.test("the controller (client-node informers) lists, watches, resumes, relists after 410, feeds TLS secrets and publishes status", async () => {
  const dir = await Deno.makeTempDir();
  const ca = await makeCa(dir, "cluster");
  const pair = await ca.issue(`${dir}/shop`, ["shop.example.com"]);
  const first = startBackend("first");
  const second = startBackend("second");
  const third = startBackend("third");
  const fourth = startBackend("static");
  const port = (url: string) => Number(new URL(url).port);
  const open: ReadableStreamDefaultController<Uint8Array>[] = [];
  const hang = () =>
    new Response(new ReadableStream<Uint8Array>({ start: (c) => void open.push(c) }), {
      headers: { "content-type": "application/json" },
    });
  const line = (o: unknown) => new TextEncoder().encode(JSON.stringify(o) + "\n");
  const calls: string[] = [];
  const patches: { path: string; type: string | null; body: unknown }[] = [];
  let sliceLists = 0;
  let sliceWatches = 0;
  let classLists = 0;
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.get("authorization") !== "Bearer test-token") {
      return Response.json({ kind: "Status", code: 401 }, { status: 401 });
    }
    if (req.method === "PATCH") {
      const body = await req.json();
      patches.push({ path: url.pathname, type: req.headers.get("content-type"), body });
      return Response.json({ ...ingresses.items[0], ...body });
    }
    const watching = url.searchParams.get("watch") === "true";
    if (url.pathname.endsWith("/ingressclasses")) {
      if (watching) return hang();
      // The first list fails, as when the API server is briefly unavailable.
      if (++classLists === 1) {
        return Response.json({ kind: "Status", code: 503, message: "unavailable" }, {
          status: 503,
        });
      }
      return Response.json(classes);
    }
    if (url.pathname.endsWith("/ingresses")) return watching ? hang() : Response.json(ingresses);
    if (url.pathname === "/api/v1/services") {
      return watching ? hang() : Response.json(services(port(fourth.url)));
    }
    if (url.pathname === "/api/v1/secrets") {
      return watching ? hang() : Response.json(tlsSecret(pair.cert, pair.key));
    }
    if (!watching) {
      sliceLists++;
      const p = sliceLists === 1 ? port(first.url) : port(third.url);
      return Response.json({
        kind: "EndpointSliceList",
        apiVersion: "discovery.k8s.io/v1",
        metadata: { resourceVersion: sliceLists === 1 ? "200" : "300" },
        items: [slice(sliceLists === 1 ? "200" : "300", p)],
      });
    }
    sliceWatches++;
    if (sliceWatches === 1) {
      // One change and a bookmark, then the connection drops.
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(line({ type: "MODIFIED", object: slice("201", port(second.url)) }));
            c.enqueue(
              line({
                type: "BOOKMARK",
                object: { kind: "EndpointSlice", metadata: { resourceVersion: "250" } },
              }),
            );
            c.close();
          },
        }),
      );
    }
    if (sliceWatches === 2) {
      return new Response(line({
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: "too old resource version: 250 (290)",
          reason: "Expired",
          code: 410,
        },
      }));
    }
    return hang();
  });
  const running = await startGateway({
    config: { routers: {}, services: {}, middlewares: {}, trustedProxies: [] },
    port: 0,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "t", server: `http://127.0.0.1:${api.addr.port}`, skipTLSVerify: true }],
    users: [{ name: "t", token: "test-token" }],
    contexts: [{ name: "t", cluster: "t", user: "t" }],
    currentContext: "t",
  });
  const store = new CertificateStore();
  const backends: string[] = [];
  const controller = await startIngressController({
    kubeConfig,
    address: "203.0.113.10",
    certificates: store,
    retryMs: 20,
    apply: (config) => {
      running.gateway.apply(config);
      const b = config.services["shop/api:80"]?.backends[0]?.url;
      if (b && backends.at(-1) !== b) backends.push(b);
    },
  });
  try {
    // The relisted slice (third) wins; which earlier states were applied depends on when the
    // IngressClass list came back, so only the end state is certain.
    for (let i = 0; i < 250 && (backends.at(-1) !== third.url || !patches.length); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(backends.at(-1), third.url);
    const res = await getWithHost(running.port, "/api/items", "shop.example.com");
    assertEquals(res.json.backend, "third");
    // Applications behind an Ingress see the Host the client asked for.
    assertEquals((res.json.headers as Record<string, string>).host, "shop.example.com");
    const statics = await getWithHost(running.port, "/static", "shop.example.com");
    assertEquals(statics.json.backend, "static");
    assertEquals((await getWithHost(running.port, "/", "other.example")).status, 404);
    // The watch resumed from the bookmark's version, then relisted after 410.
    assert(
      calls.some((c) =>
        c.startsWith("GET /apis/discovery.k8s.io/v1/endpointslices?watch=true") &&
        c.includes("resourceVersion=250")
      ),
      calls.join("\n"),
    );
    assertEquals(controller.lists.endpointslices, 2);
    assertEquals(controller.lists.ingressclasses, 2); // restarted after the failed list
    // Only TLS secrets are ever asked for, in the list and in the watch.
    const secretCalls = calls.filter((c) => c.includes("/api/v1/secrets"));
    assert(secretCalls.length >= 2, secretCalls.join());
    for (const c of secretCalls) assert(c.includes("fieldSelector=type%3Dkubernetes.io%2Ftls"), c);
    assertEquals(store.lookup("shop.example.com")?.id, "secret:shop/shop-tls");
    // One status write for the one served Ingress, however often the config was rebuilt.
    assertEquals(patches, [{
      path: "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web/status",
      type: "application/merge-patch+json",
      body: { status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } },
    }]);
  } finally {
    await controller.close();
    for (const c of open) {
      try {
        c.close();
      } catch {
        // already cancelled by the client
      }
    }
    await running.close();
    await api.shutdown();
    await Promise.all([first, second, third, fourth].map((b) => b.close()));
    await Deno.remove(dir, { recursive: true });
  }
});
