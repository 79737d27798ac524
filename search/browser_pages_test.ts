import { existsSync } from "node:fs";
import { openStore } from "@a3s/common";
import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { DEFAULT_BROWSER, defaultSearchConfig } from "./config.ts";
import { runEngine } from "./engine_runner.ts";
import { WEB_ENGINES } from "./engines/mod.ts";
import { SearchService } from "./search.ts";

/** Three results the page draws with script, the way a script-built results page does. */
const RESULTS = [
  ["https://deno.com/", "Deno", "Deno is the open-source JavaScript runtime for the modern web."],
  ["https://docs.deno.com/runtime/", "Deno Runtime", "Learn how to use the Deno runtime and CLI."],
  ["https://github.com/denoland/deno", "denoland/deno", "A modern runtime for JavaScript."],
];

/** Google's result markup, built only after the page's own request for its data returns. */
const SCRIPT_PAGE = `<!doctype html>
<html><head><title>deno - Google Search</title></head>
<body><div id="search"><div id="rso"></div></div>
<script>
  fetch("/google/results.json").then((r) => r.json()).then((results) => {
    const host = document.getElementById("rso");
    for (const [url, title, snippet] of results) {
      const block = document.createElement("div");
      block.className = "g";
      const link = document.createElement("a");
      link.href = url;
      const h3 = document.createElement("h3");
      h3.textContent = title;
      link.append(h3);
      const text = document.createElement("div");
      text.className = "VwiC3b";
      text.textContent = snippet;
      block.append(link, text);
      host.append(block);
    }
  });
</script></body></html>`;

const SORRY_PAGE = `<!doctype html><html><body>
<form id="captcha-form" action="index">Our systems have detected unusual traffic from your
computer network.</form></body></html>`;

interface PageServer {
  url: string;
  userAgents: string[];
  close(): Promise<void>;
}

function startPageServer(): Promise<PageServer> {
  const controller = new AbortController();
  const userAgents: string[] = [];
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}`,
          userAgents,
          async close() {
            controller.abort();
            await server.finished;
          },
        }),
    }, async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/google/results.json") {
        // Slow data, so results appear well after the document loaded.
        await new Promise((r) => setTimeout(r, 300));
        return Response.json(RESULTS);
      }
      if (url.pathname === "/google/search") {
        userAgents.push(request.headers.get("user-agent") ?? "");
        if (url.searchParams.get("q")?.includes("captcha")) {
          return new Response(null, { status: 302, headers: { location: "/google/sorry/index" } });
        }
        return new Response(SCRIPT_PAGE, { headers: { "content-type": "text/html" } });
      }
      if (url.pathname === "/google/sorry/index") {
        return new Response(SORRY_PAGE, { status: 429, headers: { "content-type": "text/html" } });
      }
      return new Response("not found", { status: 404 });
    });
  });
}

const haveChromium = existsSync(DEFAULT_BROWSER);

Deno.test({
  name: "an engine set to render: browser reads results a page builds with script",
  // CI installs Debian's chromium; a developer machine without it skips this test visibly.
  ignore: !haveChromium,
  async fn() {
    const server = await startPageServer();
    const store = await openStore({ sqlitePath: ":memory:" });
    const baseUrl = `${server.url}/google`;
    const query = { query: "deno runtime", page: 1, safeSearch: "moderate" } as const;
    try {
      // The server's HTML alone has no results: a plain fetch finds none.
      assertEquals(
        await runEngine(WEB_ENGINES.google, query, { baseUrl, timeoutMs: 5000 }),
        [],
      );

      const search = await SearchService.open(
        store,
        defaultSearchConfig({
          engines: { google: { enabled: true, baseUrl, render: "browser", timeoutMs: 20_000 } },
          cacheTtlSeconds: 0,
        }),
      );
      try {
        const answer = await search.search("deno runtime", { engines: ["google"] });
        const google = answer.engines[0];
        assertEquals(google.error, undefined, JSON.stringify(google.error));
        assertEquals(answer.results.map((r) => [r.url, r.title]), RESULTS.map(([u, t]) => [u, t]));
        assert(answer.results[0].snippet.startsWith("Deno is the open-source"));
        // The browser presents the adapter's browser headers.
        assert(server.userAgents.at(-1)?.includes("Chrome/131"), server.userAgents.at(-1));

        // A block page rendered by the browser is still an engine error, and comes back
        // without waiting out the deadline for results that never appear.
        const started = performance.now();
        const blocked = await search.search("captcha please", { engines: ["google"] });
        assertEquals(blocked.engines[0].error?.code, "blocked");
        assertEquals(blocked.results, []);
        assert(performance.now() - started < 15_000, "a block page does not wait for results");
      } finally {
        await search.close();
      }
    } finally {
      await store.close();
      await server.close();
    }
  },
});

Deno.test("a browser that cannot start is the engine's error, not the search's", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const search = await SearchService.open(
    store,
    defaultSearchConfig({
      engines: { google: { baseUrl: "http://127.0.0.1:9", render: "browser" } },
      browser: { executablePath: "/nonexistent/chromium" },
    }),
  );
  try {
    assertEquals(search.engines().find((e) => e.name === "google")?.render, "browser");
    assertEquals(search.engines().find((e) => e.name === "bing_china")?.render, "http");
    const answer = await search.search("deno", { engines: ["google", "local"] });
    const google = answer.engines.find((e) => e.engine === "google");
    assertEquals(google?.error?.code, "internal_error");
    assert(google?.error?.message.includes("/nonexistent/chromium"), google?.error?.message);
    assertEquals(answer.engines.find((e) => e.engine === "local")?.error, undefined);
  } finally {
    await search.close();
    await store.close();
  }
});

Deno.test("render: browser is refused for the JSON engines", () => {
  assertThrows(
    () => defaultSearchConfig({ engines: { wikipedia: { render: "browser" } } }),
    Error,
    "HTML engines only",
  );
  assertEquals(
    defaultSearchConfig({ engines: { baidu: { render: "browser" } } }).engines.baidu.render,
    "browser",
  );
  assertEquals(defaultSearchConfig().browser.executablePath, DEFAULT_BROWSER);
});
