import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { counter, histogram, initTelemetry, metricsRegistry, withSpan } from "./telemetry.ts";

Deno.test("metrics are registered once and rendered in Prometheus text", async () => {
  const a = counter({ name: "a3s_test_things_total", help: "Things.", labelNames: ["kind"] });
  const b = counter({ name: "a3s_test_things_total", help: "Things.", labelNames: ["kind"] });
  assert(a === b, "get-or-create returns the same metric");
  a.inc({ kind: "x" }, 2);
  histogram({ name: "a3s_test_wait_seconds", help: "Wait." }).observe(0.02);
  const text = await metricsRegistry.metrics();
  assert(text.includes('a3s_test_things_total{kind="x"} 2'));
  assert(text.includes('a3s_test_wait_seconds_bucket{le="0.025"} 1'));
});

Deno.test("spans are exported over OTLP/HTTP when an endpoint is set", async () => {
  const received: string[] = [];
  const collector = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (request) => {
      received.push(`${new URL(request.url).pathname} ${await request.text()}`);
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  );
  const stop = await initTelemetry(`http://127.0.0.1:${collector.addr.port}`, "a3s-test");
  await withSpan("lane.submit", { "lane.name": "query" }, () => 42);
  await assertRejects(
    () => withSpan("power.generate", {}, () => Promise.reject(new Error("nope"))),
    Error,
    "nope",
  );
  await stop();
  await collector.shutdown();
  assertEquals(received.length >= 1, true);
  const body = received.join("\n");
  assert(body.startsWith("/v1/traces"));
  assert(body.includes("lane.submit") && body.includes("power.generate"));
  assert(body.includes("a3s-test"));
});

Deno.test("without an endpoint telemetry stays a no-op", async () => {
  const stop = await initTelemetry(undefined);
  assertEquals(await withSpan("noop", {}, () => "ran"), "ran");
  await stop();
});
