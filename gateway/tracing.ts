/**
 * OpenTelemetry spans for proxied requests: the client's W3C `traceparent` becomes the parent
 * of a `gateway.proxy` span, and the backend receives that span as its parent, so one trace
 * runs client → gateway → backend. With no tracer provider installed the span is a no-op and
 * the client's header passes through unchanged.
 */
import {
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { tracer } from "@a3s/common";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Starts the span of one request, a child of the client's trace context when it sent one. */
export function startProxySpan(request: Request, router: string, path: string): Span {
  const match = request.headers.get("traceparent")?.trim().match(TRACEPARENT);
  const parent = match
    ? trace.setSpanContext(context.active(), {
      traceId: match[1],
      spanId: match[2],
      traceFlags: parseInt(match[3], 16) & TraceFlags.SAMPLED,
      isRemote: true,
    })
    : context.active();
  return tracer.startSpan("gateway.proxy", {
    kind: SpanKind.SERVER,
    attributes: {
      "http.request.method": request.method,
      "url.path": path,
      "gateway.router": router,
    },
  }, parent);
}

/** The `traceparent` the backend should get: this span's, when it is recorded. */
export function outgoingTraceparent(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** Ends the span with the response's status. */
export function endProxySpan(span: Span, status: number, backend: string): void {
  span.setAttribute("http.response.status_code", status);
  if (backend) span.setAttribute("server.address", backend);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
