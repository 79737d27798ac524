/** HTTP API: `POST /safeclaw/v1/scan` classifies one text or a batch. */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type A3sModule, createRouter, defineModule } from "@a3s/common";
import { PII_TYPES } from "@a3s/wasm/pii";
import { type Classifier, createClassifier } from "./classify.ts";

const Span = z.object({
  type: z.enum(PII_TYPES as [string, ...string[]]),
  start: z.number().int().openapi({ description: "UTF-16 code-unit offset" }),
  end: z.number().int(),
  confidence: z.number(),
}).openapi("SafeclawSpan");

const ScanRequest = z.object({
  text: z.string().optional().openapi({ description: "one text to scan" }),
  texts: z.array(z.string()).max(10_000).optional().openapi({ description: "a batch of texts" }),
}).refine((body) => (body.text === undefined) !== (body.texts === undefined), {
  message: "give exactly one of 'text' or 'texts'",
  path: ["text"],
}).openapi("SafeclawScanRequest");

const ScanResponse = z.object({
  spans: z.array(Span).optional(),
  results: z.array(z.object({ spans: z.array(Span) })).optional(),
}).openapi("SafeclawScanResponse");

const scanRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/scan",
  summary: "Find PII and secrets in text",
  request: { body: { content: { "application/json": { schema: ScanRequest } }, required: true } },
  responses: {
    200: {
      content: { "application/json": { schema: ScanResponse } },
      description: "Spans found, offsets in UTF-16 code units",
    },
  },
});

/**
 * Builds the safeclaw sub-app around `classifier`.
 *
 * @example
 * ```ts
 * import { createSafeclawRoutes } from "./routes.ts";
 * const app = createSafeclawRoutes();
 * ```
 */
export function createSafeclawRoutes(classifier: Classifier = createClassifier()): OpenAPIHono {
  const app = createRouter();
  app.openapi(scanRoute, (c) => {
    const body = c.req.valid("json");
    if (body.texts !== undefined) {
      const results = classifier.classifyMany(body.texts).map((r) => ({ spans: r.findings }));
      return c.json({ results }, 200);
    }
    return c.json({ spans: classifier.classify(body.text ?? "").findings }, 200);
  });
  return app;
}

/**
 * The module as `serve` mounts it.
 *
 * @example
 * ```ts
 * import { safeclawModule } from "@a3s/safeclaw";
 * const module = safeclawModule();
 * console.log(module.name); // "safeclaw"
 * ```
 */
export function safeclawModule(): A3sModule<unknown, Classifier> {
  return defineModule<unknown, Classifier>({
    name: "safeclaw",
    access: [{ path: "/safeclaw/v1/scan", scope: "safeclaw:read", anonymousOnLoopback: true }],
    start() {
      const classifier = createClassifier();
      return {
        routes: createSafeclawRoutes(classifier),
        api: classifier,
        close() {
          classifier.free();
          return Promise.resolve();
        },
      };
    },
  });
}
