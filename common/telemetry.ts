/**
 * Tracing through `@opentelemetry/api` (no-op unless an OTLP endpoint is configured) and the
 * one Prometheus registry every module registers its metrics into.
 */
import { type Attributes, type Span, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The process-wide metrics registry, rendered on `GET /metrics`. */
export const metricsRegistry: Registry = new Registry();

/** A metric's name, help text and label names. */
export interface MetricConfig<L extends string> {
  /** The metric name, such as `a3s_lane_jobs_total`. */
  name: string;
  /** What the metric counts or measures. */
  help: string;
  /** The names of its labels. */
  labelNames?: readonly L[];
}

function existing<T>(name: string): T | undefined {
  return metricsRegistry.getSingleMetric(name) as T | undefined;
}

/** Returns the named counter, creating it on first use so modules can register idempotently. */
export function counter<L extends string>(
  config: MetricConfig<L> & { collect?: (this: Counter<L>) => void | Promise<void> },
): Counter<L> {
  return existing<Counter<L>>(config.name) ??
    new Counter({ ...config, labelNames: config.labelNames ?? [], registers: [metricsRegistry] });
}

/** Returns the named gauge, creating it on first use. */
export function gauge<L extends string>(
  config: MetricConfig<L> & { collect?: (this: Gauge<L>) => void | Promise<void> },
): Gauge<L> {
  return existing<Gauge<L>>(config.name) ??
    new Gauge({ ...config, labelNames: config.labelNames ?? [], registers: [metricsRegistry] });
}

/** Returns the named histogram, creating it on first use. Buckets are in seconds by default. */
export function histogram<L extends string>(
  config: MetricConfig<L> & { buckets?: number[] },
): Histogram<L> {
  return existing<Histogram<L>>(config.name) ??
    new Histogram({
      ...config,
      labelNames: config.labelNames ?? [],
      buckets: config.buckets ?? [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metricsRegistry],
    });
}

/** The a3s tracer; spans cost nothing while no provider is installed. */
export const tracer: Tracer = trace.getTracer("a3s");

/**
 * Runs `fn` inside a span named `name`, recording failures on the span.
 *
 * @example
 * ```ts
 * import { withSpan } from "@a3s/common";
 * const n = await withSpan("lane.submit", { "lane.name": "query" }, () => Promise.resolve(1));
 * ```
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Installs an OTLP/HTTP span exporter when an endpoint is given; otherwise leaves the no-op
 * provider in place. Returns a function that flushes and stops the exporter.
 */
export async function initTelemetry(
  endpoint: string | undefined,
  serviceName = "a3s",
): Promise<() => Promise<void>> {
  if (!endpoint) return () => Promise.resolve();
  const [
    { BasicTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  return async () => {
    await provider.shutdown();
    trace.disable();
  };
}
