/**
 * Test support: serves the reconstructed engine pages in `testdata/engines/` from a real HTTP
 * server on a free port, one path prefix per engine. A query containing `captcha` gets that
 * engine's block page the way the engine serves it (a redirect, a 429, a 202 or a 200);
 * `slow` answers after two seconds; `broken` answers 500.
 */
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("./testdata/engines/", import.meta.url));

interface Served {
  file: string;
  status?: number;
  type?: string;
  redirect?: string;
}

const NORMAL: Record<string, Served> = {
  duckduckgo: { file: "duckduckgo.html" },
  brave: { file: "brave.html" },
  wikipedia: { file: "wikipedia.json", type: "application/json; charset=utf-8" },
  sogou: { file: "sogou.html" },
  so360: { file: "so360.html" },
  google: { file: "google.html" },
  baidu: { file: "baidu.html" },
  bing_china: { file: "bing_china.html" },
  searxng: { file: "searxng.json", type: "application/json" },
};

const BLOCKED: Record<string, Served> = {
  duckduckgo: { file: "duckduckgo_anomaly.html", status: 202 },
  brave: { file: "brave_captcha.html", redirect: "/search/captcha?destination=%2Fsearch" },
  wikipedia: { file: "wikipedia_ratelimited.json", type: "application/json" },
  sogou: { file: "sogou_antispider.html", redirect: "/antispider/?from=%2Fweb" },
  so360: { file: "so360_captcha.html" },
  google: { file: "google_sorry.html", status: 429, redirect: "/sorry/index?continue=x" },
  baidu: { file: "baidu_captcha.html", redirect: "/static/captcha/tuxing.html?ak=c27b" },
  bing_china: { file: "bing_china_captcha.html" },
  searxng: { file: "", status: 429 },
};

/** Blocked pages reached after a redirect, by engine and the redirect's path. */
const REDIRECT_TARGETS = Object.fromEntries(
  Object.entries(BLOCKED).filter(([, s]) => s.redirect).map((
    [engine, s],
  ) => [`/${engine}${new URL(s.redirect!, "http://x").pathname}`, s]),
);

/** A running fixture server. */
export interface FixtureServer {
  /** `http://127.0.0.1:<port>`; engine `e` lives under `${url}/${e}`. */
  url: string;
  /** Every request URL it received, in order. */
  requests: URL[];
  baseUrls: Record<string, string>;
  close(): Promise<void>;
}

function queryOf(url: URL): string {
  return url.searchParams.get("q") ?? url.searchParams.get("wd") ??
    url.searchParams.get("query") ?? url.searchParams.get("srsearch") ?? "";
}

async function serve(served: Served, status?: number): Promise<Response> {
  const body = served.file ? await Deno.readFile(FIXTURES + served.file) : "Too Many Requests";
  return new Response(body, {
    status: status ?? served.status ?? 200,
    headers: { "content-type": served.type ?? "text/html; charset=utf-8" },
  });
}

/** Starts the fixture server. */
export function startFixtureServer(): Promise<FixtureServer> {
  const requests: URL[] = [];
  const controller = new AbortController();
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen({ port }) {
        const url = `http://127.0.0.1:${port}`;
        resolve({
          url,
          requests,
          baseUrls: Object.fromEntries(Object.keys(NORMAL).map((e) => [e, `${url}/${e}`])),
          async close() {
            controller.abort();
            await server.finished;
          },
        });
      },
    }, async (request) => {
      const url = new URL(request.url);
      requests.push(url);
      const target = REDIRECT_TARGETS[url.pathname];
      if (target) return await serve(target, target.status);
      const engine = url.pathname.split("/")[1];
      const normal = NORMAL[engine];
      if (!normal) return new Response("not found", { status: 404 });
      const query = queryOf(url);
      if (query.includes("slow")) {
        await new Promise((r) => setTimeout(r, 2000));
        return await serve(normal);
      }
      if (query.includes("broken")) return new Response("upstream failed", { status: 500 });
      if (!query.includes("captcha")) return await serve(normal);
      const blocked = BLOCKED[engine];
      if (blocked.redirect) {
        const location = `/${engine}${blocked.redirect}`;
        return new Response(null, { status: 302, headers: { location } });
      }
      return await serve(blocked);
    });
  });
}
