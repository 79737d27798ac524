import { assert, assertEquals } from "@a3s/common/testing";
import { type Ingress, ingressConfig, startIngressController } from "./kubernetes.ts";
import { getWithHost, startBackend } from "./_test_support.ts";
import { startGateway } from "./server.ts";

// Objects in the API's list and watch formats (networking.k8s.io/v1, discovery.k8s.io/v1).
function ingressList(rv: string) {
  return {
    kind: "IngressList",
    apiVersion: "networking.k8s.io/v1",
    metadata: { resourceVersion: rv },
    items: [
      {
        metadata: { name: "web", namespace: "shop", resourceVersion: "90", uid: "u1" },
        spec: {
          ingressClassName: "a3s",
          rules: [{
            host: "shop.example.com",
            http: {
              paths: [{
                path: "/api",
                pathType: "Prefix",
                backend: { service: { name: "api", port: { name: "http" } } },
              }],
            },
          }],
        },
        status: { loadBalancer: {} },
      },
      {
        metadata: { name: "other", namespace: "shop", resourceVersion: "91" },
        spec: {
          ingressClassName: "nginx",
          rules: [{
            http: {
              paths: [{
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "api", port: { name: "http" } } },
              }],
            },
          }],
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

Deno.test("Ingress rules of our class become routers; ready endpoints become backends", () => {
  const config = ingressConfig("a3s", ingressList("1").items as Ingress[], [slice("1", 9000)]);
  assertEquals(Object.keys(config.routers), ["shop/web/0/0"]);
  assertEquals(config.routers["shop/web/0/0"].rule, {
    hosts: ["shop.example.com"],
    pathPrefix: ["/api"],
  });
  assertEquals(config.services["shop/api:http"].backends.map((b) => b.url), [
    "http://127.0.0.1:9000",
  ]);
  const notReady = {
    ...slice("2", 9000),
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: false } }],
  };
  assertEquals(ingressConfig("a3s", ingressList("1").items as Ingress[], [notReady]).routers, {});
});

Deno.test("the controller lists, watches, resumes a dropped watch, relists after 410 Gone, and publishes status", async () => {
  const first = startBackend("first");
  const second = startBackend("second");
  const third = startBackend("third");
  const port = (url: string) => Number(new URL(url).port);
  const open: ReadableStreamDefaultController<Uint8Array>[] = [];
  const hang = () =>
    new Response(new ReadableStream<Uint8Array>({ start: (c) => void open.push(c) }), {
      headers: { "content-type": "application/json" },
    });
  const line = (o: unknown) => new TextEncoder().encode(JSON.stringify(o) + "\n");
  const calls: string[] = [];
  const patches: unknown[] = [];
  let sliceLists = 0;
  let sliceWatches = 0;
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.method === "PATCH") {
      patches.push(await req.json());
      return Response.json({});
    }
    const watching = url.searchParams.get("watch") === "1";
    if (url.pathname.endsWith("/ingresses")) {
      return watching ? hang() : Response.json(ingressList("100"));
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
      // One change, then the connection drops.
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
  const backends: string[] = [];
  const controller = startIngressController({
    api: `http://127.0.0.1:${api.addr.port}`,
    className: "a3s",
    address: "203.0.113.10",
    retryMs: 20,
    apply: (config) => {
      running.gateway.apply(config);
      const b = config.services["shop/api:http"]?.backends[0]?.url;
      if (b && backends.at(-1) !== b) backends.push(b);
    },
  });
  try {
    for (let i = 0; i < 250 && backends.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(backends, [first.url, second.url, third.url]);
    const res = await getWithHost(running.port, "/api/items", "shop.example.com");
    assertEquals(res.json.backend, "third");
    assertEquals((await getWithHost(running.port, "/", "other.example")).status, 404);
    // The watch resumed from the bookmark's version, then relisted after 410.
    assert(
      calls.some((c) => c.includes("endpointslices?watch=1") && c.includes("resourceVersion=250")),
      calls.join("\n"),
    );
    assertEquals(controller.slices.lists, 2);
    assertEquals(patches, [{ status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } }]);
    assert(calls.includes("PATCH /apis/networking.k8s.io/v1/namespaces/shop/ingresses/web/status"));
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
    await Promise.all([first, second, third].map((b) => b.close()));
  }
});
