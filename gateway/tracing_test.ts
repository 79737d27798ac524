import { assert, assertEquals } from "@a3s/common/testing";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { base, startBackend, startTestGateway } from "./_test_support.ts";

Deno.test("the client's trace continues through a gateway span to the backend", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { echo: { backends: [{ url: echo.url }] } },
    routers: { r: { rule: {}, service: "echo" } },
  });
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const clientSpan = "00f067aa0ba902b7";
  try {
    const res = await fetch(`${base(gw)}/traced`, {
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
    });
    const sent = (await res.json()).headers.traceparent as string;
    const [, sentTrace, sentParent] = sent.split("-");
    assertEquals(sentTrace, traceId);
    const [span] = exporter.getFinishedSpans();
    assertEquals(span.name, "gateway.proxy");
    assertEquals(span.spanContext().spanId, sentParent);
    assertEquals(span.parentSpanContext?.spanId, clientSpan);
    assertEquals(span.attributes["http.response.status_code"], 200);
    assert(String(span.attributes["server.address"]).startsWith("http://127.0.0.1:"));
  } finally {
    await gw.close();
    await echo.close();
    await provider.shutdown();
    trace.disable();
  }
});
