import { assert, assertEquals } from "@a3s/common/testing";
import { savedPages, savedPagesDir } from "../_test_saved_pages.ts";
import { runEngine } from "../engine_runner.ts";
import { WEB_ENGINES } from "./mod.ts";

const dir = savedPagesDir();

Deno.test({
  name: "adapters parse real result pages saved from the engines, served over HTTP",
  // The pages are third-party data kept outside the repository; without them there is
  // nothing real to parse, and engines_test.ts still covers every adapter.
  ignore: dir === undefined,
  async fn() {
    const pages = savedPages();
    const controller = new AbortController();
    // Each page under its own path prefix: an engine may have several saved pages.
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen() {} },
      async (request) => {
        const page = pages[Number(new URL(request.url).pathname.split("/")[1])];
        if (!page) return new Response("not found", { status: 404 });
        return new Response(await Deno.readFile(`${dir}/${page.file}`), {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      },
    );
    try {
      for (const [i, page] of pages.entries()) {
        const adapter = WEB_ENGINES[page.engine];
        const results = await runEngine(adapter, {
          query: page.query,
          page: 1,
          safeSearch: "moderate",
        }, { baseUrl: `http://127.0.0.1:${server.addr.port}/${i}`, timeoutMs: 10_000 });
        const from = `${page.engine} (${page.file} from ${page.source.repo})`;
        assertEquals(results.length, page.expected.count, `${from}: result count`);
        page.expected.first.forEach(([url, title], i) => {
          assertEquals(results[i].url, url, `${from} #${i + 1} url`);
          assertEquals(results[i].title, title, `${from} #${i + 1} title`);
        });
        if (page.expected.firstSnippet) {
          assert(
            results[0].snippet.startsWith(page.expected.firstSnippet),
            `${from} #1 snippet: '${results[0].snippet}'`,
          );
        }
        for (const r of results) {
          assert(r.snippet.length > 0, `${from} #${r.position} has a snippet`);
          assert(!/googleadservices|bing\.com\/aclk|y\.js\?ad_domain/.test(r.url), r.url);
        }
        assertEquals(
          new Set(results.map((r) => r.url)).size,
          results.length,
          `${from}: no result twice`,
        );
      }
    } finally {
      controller.abort();
      await server.finished;
    }
  },
});
