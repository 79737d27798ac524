/** The `/docs` API reference: Swagger UI served from the swagger-ui-dist package, no CDN. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { join } from "node:path";
import { createRequire } from "node:module";

const ASSETS = ["swagger-ui-bundle.js", "swagger-ui.css"] as const;

function assetDir(): string {
  const require = createRequire(import.meta.url);
  return join(require.resolve("swagger-ui-dist/package.json"), "..");
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>a3s API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui" });</script></body></html>`;

/** Mounts `/docs` and its two assets on `app`. Assets are read once, on first request. */
export function mountDocs(app: OpenAPIHono): void {
  const cache = new Map<string, Uint8Array>();
  app.get("/docs", (c) => c.html(PAGE));
  for (const asset of ASSETS) {
    app.get(`/docs/${asset}`, async (c) => {
      let bytes = cache.get(asset);
      if (!bytes) {
        bytes = await Deno.readFile(join(assetDir(), asset));
        cache.set(asset, bytes);
      }
      const type = asset.endsWith(".js") ? "text/javascript" : "text/css";
      return c.body(bytes.slice().buffer, 200, {
        "content-type": type,
        "cache-control": "public, max-age=86400",
      });
    });
  }
}
