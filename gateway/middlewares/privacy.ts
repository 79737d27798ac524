/**
 * Privacy routing: the request's prompt goes through safeclaw's classifier; at or above the
 * configured level the request may reach only backends marked `local`, never remote ones, and
 * every decision is written to the log as an audit line.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "@a3s/common";
import type { MiddlewareConfig } from "../config.ts";
import type { GatewayEnv } from "../context.ts";
import { parseRequest } from "../metering.ts";

type Level = "Normal" | "Sensitive" | "HighlySensitive" | "Critical";
const ORDER: readonly Level[] = ["Normal", "Sensitive", "HighlySensitive", "Critical"];

/** The sensitivity of `text`: the highest default level of any entity safeclaw finds. */
async function levelOfText(text: string): Promise<{ level: Level; types: string[] }> {
  const { classify, DEFAULT_TYPE_LEVELS } = await import("@a3s/safeclaw");
  const result = classify(text);
  let level: Level = "Normal";
  for (const type of result.types) {
    const l = DEFAULT_TYPE_LEVELS[type as keyof typeof DEFAULT_TYPE_LEVELS] as Level | undefined;
    if (l && ORDER.indexOf(l) > ORDER.indexOf(level)) level = l;
  }
  return { level, types: result.types };
}

/** Builds the middleware; `audit` receives one line per decision. */
export function privacyRouting(
  config: NonNullable<MiddlewareConfig["privacy"]>,
  audit?: Logger,
): MiddlewareHandler<GatewayEnv> {
  const threshold = ORDER.indexOf(config.localAtOrAbove);
  return async (c, next) => {
    const state = c.var.state;
    let text = "";
    if (state.body) {
      const bytes = new Uint8Array(await new Response(state.body).arrayBuffer());
      state.body = new Blob([bytes]).stream();
      const raw = new TextDecoder().decode(bytes);
      // The prompt when the body is an OpenAI or Ollama request, else the whole body.
      text = parseRequest(raw).text || raw;
    }
    text += ` ${[...new URL(c.req.url).searchParams.values()].join(" ")}`;
    const { level, types } = await levelOfText(text);
    const localOnly = ORDER.indexOf(level) >= threshold;
    if (localOnly) state.allowBackend = (b) => b.local;
    audit?.info("privacy routing decision", {
      audit: true,
      router: c.env.router,
      client: c.env.client.remoteAddr,
      principal: state.principal,
      privacyLevel: level,
      types,
      decision: localOnly ? "local-only" : "any",
    });
    await next();
  };
}
