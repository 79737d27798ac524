/**
 * HTTP API under `/search/v1`: search (GET and POST), the engines, the local index (list, add,
 * remove) and the OpenSearch description document.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  type A3sModule,
  AccessPolicy,
  type AccessRule,
  createRouter,
  defineModule,
  ValidationError,
} from "@a3s/common";
import { type SearchConfig, SearchConfigSchema } from "./config.ts";
import { addPath, addUrl } from "./local/ingest.ts";
import { openSearchDescription, resultsPage } from "./opensearch.ts";
import {
  EngineListSchema,
  IndexAddSchema,
  IndexListQuerySchema,
  IndexListSchema,
  IndexRemoveQuerySchema,
  IngestSummarySchema,
  SearchBodySchema,
  SearchQuerySchema,
  SearchResponseSchema,
} from "./schema.ts";
import { SearchService } from "./search.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const searchGetRoute = createRoute({
  method: "get",
  path: "/search/v1/search",
  summary: "Search the local index and the chosen engines, ranked by consensus",
  request: { query: SearchQuerySchema },
  responses: {
    200: {
      content: {
        "application/json": { schema: SearchResponseSchema },
        "text/html": { schema: z.string() },
      },
      description: "Merged results and each engine's latency, count and error",
    },
  },
});
const searchPostRoute = createRoute({
  method: "post",
  path: "/search/v1/search",
  summary: "Search with options in a JSON body",
  request: {
    body: { content: { "application/json": { schema: SearchBodySchema } }, required: true },
  },
  responses: { 200: json(SearchResponseSchema, "Merged results and per-engine stats") },
});
const enginesRoute = createRoute({
  method: "get",
  path: "/search/v1/engines",
  summary: "The engines, whether each is asked by default, and their breaker states",
  responses: { 200: json(EngineListSchema, "Engines") },
});
const indexListRoute = createRoute({
  method: "get",
  path: "/search/v1/index",
  summary: "List the local index's documents",
  request: { query: IndexListQuerySchema },
  responses: { 200: json(IndexListSchema, "Documents, by URI") },
});
const indexAddRoute = createRoute({
  method: "post",
  path: "/search/v1/index",
  summary: "Add a host path (under the policy's roots), a URL (fetched once) or documents",
  request: {
    body: { content: { "application/json": { schema: IndexAddSchema } }, required: true },
  },
  responses: { 200: json(IngestSummarySchema, "What was added, updated, skipped or removed") },
});
const indexRemoveRoute = createRoute({
  method: "delete",
  path: "/search/v1/index",
  summary: "Remove a document, or every document under a URI prefix ending in /",
  request: { query: IndexRemoveQuerySchema },
  responses: { 200: json(z.object({ removed: z.number().int() }), "How many were removed") },
});
const openSearchRoute = createRoute({
  method: "get",
  path: "/search/v1/opensearch.xml",
  summary: "OpenSearch description document, so a browser can use this server as a search engine",
  responses: {
    200: {
      content: { "application/opensearchdescription+xml": { schema: z.string() } },
      description: "The description document",
    },
  },
});

function engineList(raw: string | undefined): string[] | undefined {
  const names = raw?.split(",").map((s) => s.trim()).filter(Boolean);
  return names?.length ? names : undefined;
}

/**
 * Builds the search sub-app around `service`; `policy` decides which host paths and URLs
 * `POST /search/v1/index` may read on a caller's behalf.
 *
 * @example
 * ```ts
 * import { AccessPolicy, openStore } from "@a3s/common";
 * import { createSearchRoutes, defaultSearchConfig, SearchService } from "@a3s/search/routes";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const app = createSearchRoutes(await SearchService.open(store, defaultSearchConfig()), new AccessPolicy());
 * await store.close();
 * ```
 */
export function createSearchRoutes(service: SearchService, policy: AccessPolicy): OpenAPIHono {
  const app = createRouter();
  app.openapi(searchGetRoute, async (c) => {
    const q = c.req.valid("query");
    const answer = await service.search(q.q, {
      engines: engineList(q.engines),
      limit: q.limit,
      page: q.page,
      language: q.language,
      safeSearch: q.safesearch,
      timeRange: q.time_range,
      ranking: q.ranking,
    });
    if (q.format === "html") return c.html(resultsPage(answer), 200);
    return c.json(answer, 200);
  });
  app.openapi(searchPostRoute, async (c) => {
    const body = c.req.valid("json");
    const answer = await service.search(body.q, body);
    return c.json(answer, 200);
  });
  app.openapi(enginesRoute, (c) => c.json({ engines: service.engines() }, 200));
  app.openapi(indexListRoute, async (c) => {
    const q = c.req.valid("query");
    const documents = await service.index.list({
      prefix: q.prefix,
      limit: q.limit ?? 100,
      offset: q.offset,
    });
    return c.json(
      { backend: service.index.backend, count: await service.index.count(), documents },
      200,
    );
  });
  app.openapi(indexAddRoute, async (c) => {
    const body = c.req.valid("json");
    if (body.path !== undefined) {
      const path = await policy.resolvePath(body.path, "path");
      return c.json(await addPath(service.index, path), 200);
    }
    if (body.url !== undefined) {
      const url = body.url;
      const summary = await addUrl(service.index, url, {
        fetch: (target, init) => policy.fetch(target, { ...init, field: "url" }),
      }).catch((error) => {
        if (error instanceof Error && error.name === "PolicyError") throw error;
        throw new ValidationError(`url: ${(error as Error).message}`, "url");
      });
      return c.json(summary, 200);
    }
    const outcomes = await service.index.upsert(body.documents ?? []);
    const count = (o: string) => outcomes.filter((x) => x === o).length;
    return c.json({
      added: count("added"),
      updated: count("updated"),
      unchanged: count("unchanged"),
      skipped: 0,
      removed: 0,
    }, 200);
  });
  app.openapi(indexRemoveRoute, async (c) => {
    return c.json({ removed: await service.index.remove(c.req.valid("query").uri) }, 200);
  });
  app.openapi(openSearchRoute, (c) => {
    // The Host header (already checked by the server's host allow-list) names the server as
    // the browser reached it; the request URL's origin may be opaque behind the assembly.
    const url = new URL(c.req.url);
    const scheme = url.protocol === "https:" ? "https" : "http";
    const origin = `${scheme}://${c.req.header("host") ?? url.host}`;
    return c.body(openSearchDescription(origin), 200, {
      "content-type": "application/opensearchdescription+xml; charset=utf-8",
    });
  });
  return app;
}

/**
 * Who may call what: searching and the OpenSearch document are read APIs a browser on this
 * machine uses without a key; listing the index reveals host paths, and adding to it reads
 * host files and fetches URLs, so those always need a token.
 */
export const SEARCH_ACCESS: readonly AccessRule[] = [
  { path: "/search/v1/search", methods: ["GET"], scope: "search:read", anonymousOnLoopback: true },
  { path: "/search/v1/search", methods: ["POST"], scope: "search:read", anonymousOnLoopback: true },
  {
    path: "/search/v1/opensearch.xml",
    methods: ["GET"],
    scope: "search:read",
    anonymousOnLoopback: true,
  },
  { path: "/search/v1/engines", methods: ["GET"], scope: "search:read", anonymousOnLoopback: true },
  { path: "/search/v1/index", methods: ["GET"], scope: "search:read" },
  { path: "/search/v1/index", methods: ["POST", "DELETE"], scope: "search:write" },
];

/**
 * The search module as `serve` starts it. Its API, for modules that list `search` in
 * `dependsOn` (the agent framework's `web_search`), is the {@linkcode SearchService}.
 *
 * @example
 * ```ts
 * import { searchModule } from "@a3s/search/routes";
 * console.log(searchModule().name); // "search"
 * ```
 */
export function searchModule(): A3sModule<SearchConfig, SearchService> {
  return defineModule<SearchConfig, SearchService>({
    name: "search",
    configSchema: SearchConfigSchema,
    access: SEARCH_ACCESS,
    async start(ctx) {
      const service = await SearchService.open(ctx.store, ctx.config, { logger: ctx.logger });
      // A headless browser started for `render: "browser"` engines must not outlive the server.
      ctx.shutdown.addEventListener("abort", () => void service.close(), { once: true });
      const policy = new AccessPolicy(ctx.config.fetchPolicy, {
        audit: (event, fields) => ctx.logger.warn(event, fields),
      });
      ctx.logger.info("search started", {
        backend: service.index.backend,
        engines: service.defaultEngines(),
      });
      return { routes: createSearchRoutes(service, policy), api: service };
    },
  });
}

export { defaultSearchConfig } from "./config.ts";
export { SearchService } from "./search.ts";
