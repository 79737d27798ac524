import { assert, assertEquals } from "@a3s/common/testing";
import { startFixtureServer } from "../_test_fixtures.ts";
import { runEngine } from "../engine_runner.ts";
import { EngineError, type EngineQuery } from "../types.ts";
import { WEB_ENGINES } from "./mod.ts";
import { WEB_ENGINE_NAMES } from "../engine_names.ts";
import { unwrapDuckDuckGoRedirect } from "./duckduckgo.ts";
import { unwrapBingRedirect } from "./bing_china.ts";

const QUERY: EngineQuery = { query: "deno typescript runtime", page: 1, safeSearch: "moderate" };

/** What each reconstructed page holds: the count and the first two results, in order. */
const EXPECTED: Record<string, { count: number; first: [string, string][] }> = {
  duckduckgo: {
    count: 7,
    first: [
      ["https://deno.com/", "Deno, the next-generation JavaScript runtime"],
      [
        "https://github.com/denoland/deno?utm_source=duckduckgo&utm_medium=organic",
        "GitHub - denoland/deno: A modern runtime for JavaScript and TypeScript.",
      ],
    ],
  },
  brave: {
    count: 7,
    first: [
      ["https://deno.com/", "Deno, the next-generation JavaScript runtime"],
      ["https://docs.deno.com/runtime/", "Deno Runtime - Deno Docs"],
    ],
  },
  wikipedia: {
    count: 5,
    first: [["/wiki/Deno_(software)", "Deno (software)"], ["/wiki/Node.js", "Node.js"]],
  },
  google: {
    count: 7,
    first: [
      ["https://deno.com/", "Deno, the next-generation JavaScript runtime"],
      [
        "https://github.com/denoland/deno",
        "GitHub - denoland/deno: A modern runtime for JavaScript and TypeScript.",
      ],
    ],
  },
  bing_china: {
    count: 7,
    first: [
      ["https://deno.com/", "Deno, the next-generation JavaScript runtime"],
      [
        "https://github.com/denoland/deno",
        "GitHub - denoland/deno: A modern runtime for JavaScript and TypeScript.",
      ],
    ],
  },
  baidu: {
    count: 7,
    first: [
      ["https://baike.baidu.com/item/Deno/23585683", "Deno_百度百科"],
      ["https://www.runoob.com/deno/deno-tutorial.html", "Deno 教程 | 菜鸟教程"],
    ],
  },
  sogou: {
    count: 6,
    first: [
      ["http://www.deno-xiazai.cn/ruanjian/deno.html", "deno下载_deno官方免费下载_绿色版"],
      ["/link?url=", "Deno 教程 | 菜鸟教程"],
    ],
  },
  so360: {
    count: 6,
    first: [
      ["https://baike.baidu.com/item/Deno/23585683", "Deno_百度百科"],
      ["http://www.deno-xiazai.cn/ruanjian/deno.html", "deno下载_deno官方免费下载_绿色版"],
    ],
  },
  searxng: {
    count: 5,
    first: [
      ["https://deno.com/", "Deno, the next-generation JavaScript runtime"],
      [
        "https://github.com/denoland/deno",
        "GitHub - denoland/deno: A modern runtime for JavaScript and TypeScript.",
      ],
    ],
  },
};

Deno.test("every adapter parses its engine's page served over HTTP", async () => {
  const server = await startFixtureServer();
  try {
    for (const [name, adapter] of Object.entries(WEB_ENGINES)) {
      const results = await runEngine(adapter, QUERY, {
        baseUrl: server.baseUrls[name],
        timeoutMs: 5000,
      });
      const expected = EXPECTED[name];
      assertEquals(results.length, expected.count, `${name} result count`);
      results.forEach((r, i) => {
        assertEquals(r.position, i + 1, `${name} positions`);
        assertEquals(r.engine, name);
        assert(r.snippet.length > 20, `${name} #${i + 1} has a snippet: '${r.snippet}'`);
        assert(/^https?:\/\//.test(r.url), `${name} #${i + 1} url ${r.url}`);
      });
      expected.first.forEach(([url, title], i) => {
        assert(results[i].url.includes(url), `${name} #${i + 1}: ${results[i].url} has ${url}`);
        assertEquals(results[i].title, title, `${name} #${i + 1} title`);
      });
    }
  } finally {
    await server.close();
  }
});

Deno.test("ads, infoboxes, sitelinks and related searches are not results", async () => {
  const server = await startFixtureServer();
  try {
    for (const name of ["duckduckgo", "google", "bing_china", "so360", "brave", "baidu"]) {
      const results = await runEngine(WEB_ENGINES[name], QUERY, {
        baseUrl: server.baseUrls[name],
        timeoutMs: 5000,
      });
      for (const r of results) {
        assert(
          !/googleadservices|y\.js\?ad_domain|aclk|e\.so\.com|youtube|deploy$/.test(r.url),
          r.url,
        );
        assert(!/Sponsored|广告|Deploy Worldwide|Deno Deploy$/.test(r.title), r.title);
      }
    }
  } finally {
    await server.close();
  }
});

Deno.test("every block page and rate limit is an engine error, never results", async () => {
  const server = await startFixtureServer();
  const expected: Record<string, string> = {
    duckduckgo: "blocked",
    brave: "blocked",
    wikipedia: "rate_limited",
    sogou: "blocked",
    so360: "blocked",
    google: "blocked",
    baidu: "blocked",
    bing_china: "blocked",
    searxng: "rate_limited",
  };
  try {
    for (const [name, adapter] of Object.entries(WEB_ENGINES)) {
      let caught: unknown;
      try {
        await runEngine(adapter, { ...QUERY, query: "captcha please" }, {
          baseUrl: server.baseUrls[name],
          timeoutMs: 5000,
        });
      } catch (error) {
        caught = error;
      }
      assert(caught instanceof EngineError, `${name} threw an EngineError`);
      assertEquals((caught as EngineError).code, expected[name], name);
    }
  } finally {
    await server.close();
  }
});

Deno.test("timeouts, HTTP failures and dead hosts are engine errors", async () => {
  const server = await startFixtureServer();
  try {
    const codeOf = async (query: string, baseUrl: string, timeoutMs = 5000) => {
      try {
        await runEngine(WEB_ENGINES.google, { ...QUERY, query }, { baseUrl, timeoutMs });
      } catch (error) {
        return (error as EngineError).code;
      }
      return "none";
    };
    assertEquals(await codeOf("slow one", server.baseUrls.google, 200), "timeout");
    assertEquals(await codeOf("broken", server.baseUrls.google), "http_error");
    assertEquals(await codeOf("deno", "http://127.0.0.1:9"), "network_error");
    assertEquals(await codeOf("deno", server.baseUrls.wikipedia), "none");
  } finally {
    await server.close();
  }
});

Deno.test("requests carry page, language, safe search and time range in each engine's terms", () => {
  const q: EngineQuery = {
    query: "rust 语言",
    page: 3,
    language: "zh-CN",
    safeSearch: "strict",
    timeRange: "week",
  };
  const params = (name: string) =>
    new URL(WEB_ENGINES[name].buildRequest(q, WEB_ENGINES[name].defaultBaseUrl || "http://sx").url)
      .searchParams;
  const google = params("google");
  assertEquals([google.get("q"), google.get("start"), google.get("hl")], [
    "rust 语言",
    "20",
    "zh-CN",
  ]);
  assertEquals([google.get("safe"), google.get("tbs")], ["active", "qdr:w"]);
  const ddg = params("duckduckgo");
  assertEquals([ddg.get("s"), ddg.get("kl"), ddg.get("kp"), ddg.get("df")], [
    "25",
    "cn-zh",
    "1",
    "w",
  ]);
  assertEquals([params("baidu").get("wd"), params("baidu").get("pn")], ["rust 语言", "20"]);
  assert(params("baidu").get("gpc")?.startsWith("stf="));
  assertEquals([params("bing_china").get("first"), params("bing_china").get("adlt")], [
    "21",
    "strict",
  ]);
  assertEquals([params("sogou").get("query"), params("sogou").get("page")], ["rust 语言", "3"]);
  assertEquals([params("so360").get("q"), params("so360").get("pn")], ["rust 语言", "3"]);
  assertEquals(params("brave").get("tf"), "pw");
  assertEquals(params("searxng").get("pageno"), "3");
  assertEquals(params("searxng").get("safesearch"), "2");
  assertEquals(params("wikipedia").get("sroffset"), "20");
  const wiki = WEB_ENGINES.wikipedia.buildRequest(q, WEB_ENGINES.wikipedia.defaultBaseUrl);
  assert(wiki.url.startsWith("https://zh.wikipedia.org/w/api.php?"), wiki.url);
  const brave = WEB_ENGINES.brave.buildRequest(q, WEB_ENGINES.brave.defaultBaseUrl);
  assert(brave.headers?.cookie?.includes("safesearch=strict"));
});

Deno.test("redirect links are unwrapped to their targets", () => {
  assertEquals(
    unwrapDuckDuckGoRedirect(
      "//duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1&rut=x",
    ),
    "https://example.com/a?b=1",
  );
  const target = "https://example.org/路径?q=1";
  const u = "a1" + btoa(String.fromCharCode(...new TextEncoder().encode(target)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  assertEquals(unwrapBingRedirect(`https://cn.bing.com/ck/a?!&&p=1&u=${u}&ntb=1`), target);
  assertEquals(unwrapBingRedirect("https://example.com/ck"), "https://example.com/ck");
});

Deno.test("engine names: the list --help prints is the adapters' names, in order", () => {
  assertEquals([...WEB_ENGINE_NAMES], Object.keys(WEB_ENGINES));
});
