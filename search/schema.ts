/** Zod schemas of the HTTP API: the one source of its validation, types and OpenAPI entries. */
import { z } from "@hono/zod-openapi";
import { ENGINE_NAMES } from "./config.ts";

/** Hard ceiling on a query's length; the configured `maxQueryLength` is usually lower. */
const QUERY_CEILING = 10_000;

const Query = z.string().trim().min(1, "the query is empty").max(
  QUERY_CEILING,
  `the query is longer than ${QUERY_CEILING} characters`,
);
const SafeSearch = z.enum(["off", "moderate", "strict"]);
const TimeRange = z.enum(["day", "week", "month", "year"]);
const Ranking = z.enum(["rrf", "searxng"]);
const Language = z.string().regex(
  /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/,
  "a BCP 47 tag such as en or zh-CN",
);

/** `GET /search/v1/search` query parameters. */
export const SearchQuerySchema = z.object({
  q: Query.openapi({ description: "what to search for", example: "deno typescript runtime" }),
  engines: z.string().optional().openapi({
    description: `comma-separated engines; default: local and the enabled ones. Known: ${
      ENGINE_NAMES.join(", ")
    }`,
  }),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.coerce.number().int().min(1).max(50).optional(),
  language: Language.optional(),
  safesearch: SafeSearch.optional(),
  time_range: TimeRange.optional(),
  ranking: Ranking.optional(),
  format: z.enum(["json", "html"]).optional().openapi({
    description: "html renders a results page, for browsers using the OpenSearch description",
  }),
});

/** `POST /search/v1/search` body. */
export const SearchBodySchema = z.object({
  q: Query,
  engines: z.array(z.string().min(1)).max(ENGINE_NAMES.length).optional(),
  limit: z.number().int().min(1).max(100).optional(),
  page: z.number().int().min(1).max(50).optional(),
  language: Language.optional(),
  safeSearch: SafeSearch.optional(),
  timeRange: TimeRange.optional(),
  ranking: Ranking.optional(),
  cache: z.boolean().optional().openapi({ description: "false bypasses cached engine pages" }),
}).openapi("SearchRequest");

const EngineErrorSchema = z.object({
  code: z.enum([
    "blocked",
    "rate_limited",
    "timeout",
    "http_error",
    "network_error",
    "parse_error",
    "circuit_open",
    "internal_error",
  ]),
  message: z.string(),
});

/** The answer of both search routes. */
export const SearchResponseSchema = z.object({
  query: z.string(),
  page: z.number().int(),
  ranking: Ranking,
  results: z.array(z.object({
    url: z.string(),
    title: z.string(),
    snippet: z.string().openapi({ description: "local results mark matches with <mark>" }),
    engines: z.array(z.string()),
    positions: z.record(z.string(), z.number().int()),
    score: z.number(),
  })),
  engines: z.array(z.object({
    engine: z.string(),
    latencyMs: z.number(),
    count: z.number().int(),
    cached: z.boolean(),
    error: EngineErrorSchema.optional(),
  })),
  tookMs: z.number(),
}).openapi("SearchResponse");

/** `GET /search/v1/engines`. */
export const EngineListSchema = z.object({
  engines: z.array(z.object({
    name: z.string(),
    enabled: z.boolean().openapi({ description: "asked when a search names no engines" }),
    baseUrl: z.string(),
    weight: z.number(),
    breaker: z.enum(["closed", "open", "half_open"]),
    render: z.enum(["http", "browser"]).openapi({
      description: "`browser`: the page is loaded in headless Chromium",
    }),
  })),
}).openapi("SearchEngineList");

/** `GET /search/v1/index` query. */
export const IndexListQuerySchema = z.object({
  prefix: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

/** `GET /search/v1/index` answer. */
export const IndexListSchema = z.object({
  backend: z.enum(["sqlite-fts5", "postgres-fts"]),
  count: z.number().int(),
  documents: z.array(z.object({
    uri: z.string(),
    title: z.string(),
    source: z.string(),
    size: z.number().int(),
    updatedAt: z.number().int(),
  })),
}).openapi("SearchIndexList");

const DocumentSchema = z.object({
  uri: z.string().min(1).max(4096).regex(/^[a-z][a-z0-9+.-]*:/, "a URI such as memory:notes/1"),
  title: z.string().max(1000),
  body: z.string().max(2 * 1024 * 1024),
  source: z.string().min(1).max(50).default("api"),
});

/** `POST /search/v1/index` body: exactly one of a host path, a URL, or documents. */
export const IndexAddSchema = z.object({
  path: z.string().min(1).max(4096).optional().openapi({
    description: "a file or directory under the configured fetchPolicy.roots",
  }),
  url: z.string().url().optional().openapi({
    description: "fetched once through the fetch policy",
  }),
  documents: z.array(DocumentSchema).min(1).max(1000).optional(),
}).refine(
  (body) => [body.path, body.url, body.documents].filter((v) => v !== undefined).length === 1,
  { message: "give exactly one of path, url or documents", path: ["path"] },
).openapi("SearchIndexAdd");

/** What an index addition did. */
export const IngestSummarySchema = z.object({
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  skipped: z.number().int(),
  removed: z.number().int(),
}).openapi("SearchIngestSummary");

/** `DELETE /search/v1/index` query. */
export const IndexRemoveQuerySchema = z.object({
  uri: z.string().min(1).max(4096).openapi({
    description: "a document's URI, or a prefix ending in / to remove everything under it",
  }),
});
