/**
 * The `tokenMeter` middleware: refuses a caller over its token quota with 429 and Retry-After,
 * keeps a copy of the (small, JSON) request body and taps the response as it streams to the
 * client, counting its tokens when it ends.
 */
import type { MiddlewareHandler } from "hono";
import type { MiddlewareConfig } from "../config.ts";
import type { GatewayEnv } from "../context.ts";
import { countExchange, type TextCounter, type TokenMeter } from "../metering.ts";

/** What the metering middleware shares across routers and reloads. */
export interface MeteringDeps {
  /** The totals and quota windows. */
  meter: TokenMeter;
  /** Loads the tokenizer on first use. */
  counter: () => Promise<TextCounter>;
}

/** Builds the middleware for one config entry. */
export function tokenMeter(
  config: NonNullable<MiddlewareConfig["tokenMeter"]>,
  deps: MeteringDeps,
): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const state = c.var.state;
    const key = state.principal ?? `ip:${c.env.client.remoteAddr}`;
    const wait = deps.meter.retryAfter(key, config);
    if (wait > 0) {
      return Response.json({ error: { status: 429, message: "token quota exceeded" } }, {
        status: 429,
        headers: { "retry-after": String(wait) },
      });
    }
    let requestText = "";
    if (state.body) {
      const bytes = new Uint8Array(await new Response(state.body).arrayBuffer());
      requestText = new TextDecoder().decode(bytes);
      state.body = new Blob([bytes]).stream();
    }
    await next();
    const res = c.res;
    if (!res.body || res.status >= 400) return;
    const contentType = res.headers.get("content-type") ?? "";
    const decoder = new TextDecoder();
    let text = "";
    let kept = 0;
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        if (kept < config.maxBodyBytes) {
          kept += chunk.byteLength;
          text += decoder.decode(chunk, { stream: true });
        }
      },
      async flush() {
        text += decoder.decode();
        const count = countExchange(requestText, contentType, text, await deps.counter());
        if (count) deps.meter.record(key, count);
      },
    });
    c.res = new Response(res.body.pipeThrough(tap), { status: res.status, headers: res.headers });
  };
}
