/** Prometheus metrics per router and backend. */
import { Counter, Histogram, type Registry } from "prom-client";

/** The gateway's metric families. */
export interface GatewayMetrics {
  /** Requests by router, service, backend and status code. */
  requests: Counter<"router" | "service" | "backend" | "code">;
  /** Time to response headers, by router. */
  duration: Histogram<"router">;
  /** Response bytes declared by Content-Length, by router. */
  bytes: Counter<"router">;
  /** Gateway-made errors (no backend, timeout, unreachable), by router and status. */
  errors: Counter<"router" | "code">;
}

/** Registers the metric families on `registry` (reusing them when already there). */
export function gatewayMetrics(registry: Registry): GatewayMetrics {
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  return {
    requests: existing("gateway_requests_total") ?? new Counter({
      name: "gateway_requests_total",
      help: "Requests through the gateway",
      labelNames: ["router", "service", "backend", "code"],
      registers: [registry],
    }),
    duration: existing("gateway_request_duration_seconds") ?? new Histogram({
      name: "gateway_request_duration_seconds",
      help: "Time to response headers through the gateway",
      labelNames: ["router"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    bytes: existing("gateway_response_bytes_total") ?? new Counter({
      name: "gateway_response_bytes_total",
      help: "Response bytes (by Content-Length) through the gateway",
      labelNames: ["router"],
      registers: [registry],
    }),
    errors: existing("gateway_errors_total") ?? new Counter({
      name: "gateway_errors_total",
      help: "Errors the gateway answered itself (502, 503, 504, 413)",
      labelNames: ["router", "code"],
      registers: [registry],
    }),
  };
}
