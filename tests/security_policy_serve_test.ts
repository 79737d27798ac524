/**
 * The access policy behind a real `mod.ts serve`: search's index route fetches URLs and reads
 * host paths a request names, so it proves the redirect and root checks end to end.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../common/_assert.ts";
import { spawnServe, waitReady } from "./_serve.ts";

Deno.test({
  name: "serve: redirects to private addresses and paths outside the roots are refused and logged",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-policy-home-" });
    const root = await Deno.makeTempDir({ prefix: "a3s-policy-root-" });
    const outside = await Deno.makeTempDir({ prefix: "a3s-policy-outside-" });
    await Deno.writeTextFile(join(root, "notes.md"), "# allowed\nthe allowed root\n");
    await Deno.writeTextFile(join(outside, "secret.md"), "# secret\nnot for the index\n");
    // A site on 127.0.0.1 that the policy allows, which redirects wherever it is told.
    const hits: string[] = [];
    const site = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const url = new URL(request.url);
      hits.push(url.pathname);
      const to = url.searchParams.get("to");
      if (to) return new Response(null, { status: 302, headers: { location: to } });
      return new Response("# page\nfetched through the policy\n", {
        headers: { "content-type": "text/markdown" },
      });
    });
    const token = "search-writer-0123456789";
    const serve = await spawnServe([], {
      A3S_HOME: home,
      A3S_TOKENS: `${token}=search:write`,
      A3S_SEARCH_FETCH_POLICY: JSON.stringify({
        roots: [root],
        privateNetworks: ["127.0.0.1/32"],
      }),
    });
    try {
      await waitReady(serve.url);
      const port = site.addr.port;
      const add = (body: Record<string, unknown>) =>
        fetch(`${serve.url}/search/v1/index`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
      const count = async () =>
        (await (await fetch(`${serve.url}/search/v1/index`, {
          headers: { authorization: `Bearer ${token}` },
        })).json()).count;

      // The allowed cases work, so the refusals below are the policy's doing.
      const allowed = await add({ url: `http://127.0.0.1:${port}/page` });
      assertEquals(allowed.status, 200, await allowed.clone().text());
      await allowed.body?.cancel();
      const fromRoot = await add({ path: join(root, "notes.md") });
      assertEquals(fromRoot.status, 200, await fromRoot.clone().text());
      await fromRoot.body?.cancel();
      const before = await count();

      for (
        const target of [
          "http://169.254.169.254/latest/meta-data/",
          `http://[::1]:${port}/secret`,
          `http://10.0.0.1:${port}/secret`,
          "file:///etc/passwd",
        ]
      ) {
        const refused = await add({
          url: `http://127.0.0.1:${port}/go?to=${encodeURIComponent(target)}`,
        });
        assertEquals(refused.status, 403, target);
        const body = await refused.json();
        assertEquals(body.field, "url");
      }
      assert(!hits.includes("/secret"), "a refused hop is never requested");
      for (const path of [join(outside, "secret.md"), join(root, "..", "etc"), "/etc/passwd"]) {
        const refused = await add({ path });
        assertEquals(refused.status, 403, path);
        await refused.body?.cancel();
      }
      assertEquals(await count(), before, "refusals add nothing to the index");
      await new Promise((r) => setTimeout(r, 100));
      const audit = serve.logs().split("\n").filter((line) =>
        line.includes('"url refused"') || line.includes('"path refused"')
      );
      assert(audit.length >= 7, `policy refusals logged: ${audit.length}`);
    } finally {
      await serve.stop();
      await site.shutdown();
      for (const dir of [home, root, outside]) await Deno.remove(dir, { recursive: true });
    }
  },
});
