import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { startFixtureServer } from "./_test_fixtures.ts";
import { searchModule } from "./routes.ts";

const WRITER = "search-writer-token-0123456789";
const READER = "search-reader-token-0123456789";

interface Harness {
  url: string;
  docs: string;
  close(): Promise<void>;
}

async function start(section: Record<string, unknown> = {}): Promise<Harness> {
  const home = await Deno.makeTempDir();
  const docs = join(home, "docs");
  await Deno.mkdir(docs);
  await Deno.writeTextFile(join(docs, "lanes.md"), "# Lanes\nPriority lanes schedule agent jobs.");
  await Deno.writeTextFile(
    join(home, "config.json"),
    JSON.stringify({
      security: {
        tokens: [
          { token: WRITER, scopes: ["search:read", "search:write"] },
          { token: READER, scopes: ["search:read"] },
        ],
      },
      search: { fetchPolicy: { roots: [docs] }, ...section },
    }),
  );
  const modules = [searchModule()];
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 }, modules }),
    modules,
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  return {
    url: server.url,
    docs,
    async close() {
      await server.shutdown();
      await Deno.remove(home, { recursive: true });
    },
  };
}

const post = (url: string, body: unknown, token = WRITER) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
const auth = (token = WRITER) => ({ headers: { authorization: `Bearer ${token}` } });

Deno.test("index documents and a host path over HTTP, then search them with GET and POST", async () => {
  const h = await start();
  try {
    const added = await post(`${h.url}/search/v1/index`, {
      documents: [{
        uri: "memory:note/1",
        title: "Sandbox",
        body: "bubblewrap isolates agent tools",
      }],
    });
    assertEquals(await added.json(), {
      added: 1,
      updated: 0,
      unchanged: 0,
      skipped: 0,
      removed: 0,
    });
    const fromPath = await post(`${h.url}/search/v1/index`, { path: h.docs });
    assertEquals((await fromPath.json()).added, 1);

    const got = await fetch(`${h.url}/search/v1/search?q=bubblewrap`);
    assertEquals(got.status, 200);
    const answer = await got.json();
    assertEquals(answer.results[0].url, "memory:note/1");
    assertEquals(answer.engines[0].engine, "local");

    const posted =
      await (await post(`${h.url}/search/v1/search`, { q: "priority lanes", limit: 1 })).json();
    assertEquals(posted.results.length, 1);
    assert(posted.results[0].url.endsWith("/docs/lanes.md"));
    assert(posted.results[0].snippet.includes("<mark>"));

    const listed = await (await fetch(`${h.url}/search/v1/index`, auth(READER))).json();
    assertEquals(listed.backend, "sqlite-fts5");
    assertEquals(listed.count, 2);
    assertEquals((await fetch(`${h.url}/search/v1/index`)).status, 401);
    const denied = await fetch(`${h.url}/search/v1/index?uri=memory:note/1`, {
      method: "DELETE",
      ...auth(READER),
    });
    assertEquals(denied.status, 403);
    await denied.body?.cancel();
    const removed = await fetch(`${h.url}/search/v1/index?uri=memory:note/1`, {
      method: "DELETE",
      ...auth(),
    });
    assertEquals(await removed.json(), { removed: 1 });
  } finally {
    await h.close();
  }
});

Deno.test("bad searches are 400s that name the field", async () => {
  const h = await start({ maxQueryLength: 50 });
  try {
    const check = async (response: Response, field: string) => {
      assertEquals(response.status, 400);
      const body = await response.json();
      assertEquals(body.field, field, JSON.stringify(body));
      return body.detail as string;
    };
    assert((await check(await fetch(`${h.url}/search/v1/search?q=%20%20`), "q")).includes("empty"));
    assert((await check(await fetch(`${h.url}/search/v1/search`), "q")).length > 0);
    const long = await check(await fetch(`${h.url}/search/v1/search?q=${"x".repeat(51)}`), "q");
    assert(long.includes("limit is 50"), long);
    await check(await fetch(`${h.url}/search/v1/search?q=a&engines=altavista`), "engines");
    await check(await fetch(`${h.url}/search/v1/search?q=a&limit=0`), "limit");
    await check(await post(`${h.url}/search/v1/search`, { q: "" }), "q");
    await check(
      await post(`${h.url}/search/v1/index`, { path: "/a", url: "https://a.example" }),
      "path",
    );
  } finally {
    await h.close();
  }
});

Deno.test("index additions outside the policy's roots are refused", async () => {
  const h = await start();
  try {
    const outside = await post(`${h.url}/search/v1/index`, { path: "/etc" });
    assertEquals(outside.status, 403);
    const escape = await post(`${h.url}/search/v1/index`, { path: `${h.docs}/../config.json` });
    assertEquals(escape.status, 403);
    const loopback = await post(`${h.url}/search/v1/index`, {
      url: `${h.url}/search/v1/opensearch.xml`,
    });
    assertEquals(loopback.status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("web engines configured in the search section answer through the routes", async () => {
  const fixtures = await startFixtureServer();
  const engines = Object.fromEntries(
    Object.entries(fixtures.baseUrls).map((
      [name, baseUrl],
    ) => [name, { enabled: name !== "searxng", baseUrl }]),
  );
  const h = await start({ engines });
  try {
    const answer =
      await (await fetch(`${h.url}/search/v1/search?q=deno+typescript+runtime&limit=3`)).json();
    assertEquals(answer.results.length, 3);
    assertEquals(answer.engines.length, 9);
    assert(answer.results[0].engines.length >= 7);
    const list = await (await fetch(`${h.url}/search/v1/engines`)).json();
    const searx = list.engines.find((e: { name: string }) => e.name === "searxng");
    assertEquals(searx.enabled, false);
  } finally {
    await h.close();
    await fixtures.close();
  }
});

Deno.test("OpenSearch description, HTML results page and OpenAPI entries", async () => {
  const h = await start();
  try {
    await post(`${h.url}/search/v1/index`, {
      documents: [{
        uri: "https://x.example/<b>",
        title: "<script>alert(1)</script> tags",
        body: "escape tags safely",
      }],
    });
    const xml = await fetch(`${h.url}/search/v1/opensearch.xml`);
    assert(xml.headers.get("content-type")?.startsWith("application/opensearchdescription+xml"));
    const text = await xml.text();
    assert(
      text.includes(
        `template="${h.url}/search/v1/search?q={searchTerms}&amp;page={startPage?}&amp;format=html"`,
      ),
    );

    const page = await fetch(`${h.url}/search/v1/search?q=tags&format=html`);
    assert(page.headers.get("content-type")?.startsWith("text/html"));
    const html = await page.text();
    assert(html.includes("&lt;script&gt;alert(1)&lt;/script&gt; tags"));
    assert(!html.includes("<script>"));
    assert(html.includes("<mark>tags</mark>"));

    const doc = await (await fetch(`${h.url}/openapi.json`)).json();
    assertEquals(doc.paths["/search/v1/search"].get.tags, ["search"]);
    assert(doc.paths["/search/v1/search"].post);
    assert(doc.components.schemas.SearchResponse);
  } finally {
    await h.close();
  }
});
