/**
 * The attacks of issue 11 against a real `mod.ts serve` on a free port: each is refused,
 * logged, and leaves the data dir as it was. The official clients keep working.
 */
// tests/ is no workspace member with imports of its own; these are the versions power pins.
// deno-lint-ignore no-import-prefix
import OpenAI from "npm:openai@7.57.0";
// deno-lint-ignore no-import-prefix
import { Ollama } from "npm:ollama@0.6.4";
import { join } from "node:path";
import { assert, assertEquals } from "../common/_assert.ts";
import { runCli, spawnServe, waitReady } from "./_serve.ts";

/** Every file under `dir` with its size, except the SQLite database (tokens are kept there). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = join(path, entry.name);
      if (entry.isDirectory) await walk(full);
      else if (!entry.name.startsWith("a3s.db")) {
        out.push(`${full}:${(await Deno.stat(full)).size}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

function refusals(logs: string): { reason: string; path: string }[] {
  return logs.split("\n").filter((line) => line.includes('"request refused"')).map((line) =>
    JSON.parse(line)
  );
}

Deno.test({
  name: "serve on loopback: hostile requests are refused, logged, and change nothing on disk",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-sec-home-" });
    const outside = await Deno.makeTempDir({ prefix: "a3s-sec-outside-" });
    await Deno.writeTextFile(join(outside, "config.json"), "{}");
    const reader = "reader-token-0123456789";
    const admin = "admin-token-0123456789";
    const serve = await spawnServe([], {
      A3S_HOME: home,
      A3S_TOKENS: `${reader}=power:read,${admin}`,
    });
    try {
      await waitReady(serve.url);
      const port = new URL(serve.url).port;
      const before = await snapshot(home);
      const pull = (
        source: string,
        headers: Record<string, string> = {},
      ) =>
        fetch(`${serve.url}/api/pull`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ model: "stolen", source, stream: false }),
        });

      // A web page's simple POST: text/plain, cross-site, no preflight.
      const crossSite = await fetch(`${serve.url}/api/pull`, {
        method: "POST",
        headers: {
          "content-type": "text/plain;charset=UTF-8",
          origin: "https://evil.example",
          "sec-fetch-site": "cross-site",
        },
        body: JSON.stringify({ model: "stolen", source: outside, stream: false }),
      });
      assertEquals(crossSite.status, 403);
      assertEquals(crossSite.headers.get("access-control-allow-origin"), null);
      await crossSite.body?.cancel();

      // DNS rebinding: the page's own name now points at 127.0.0.1.
      const hostClient = Deno.createHttpClient({ allowHost: true });
      const rebound = await fetch(`${serve.url}/api/tags`, {
        headers: { host: `evil.example:${port}` },
        client: hostClient,
      });
      hostClient.close();
      assertEquals(rebound.status, 403);
      assert(typeof (await rebound.json()).error === "string", "Ollama error shape on /api");

      const anonymous = await pull(outside);
      assertEquals(anonymous.status, 401);
      await anonymous.body?.cancel();
      const noScope = await pull(outside, { authorization: `Bearer ${reader}` });
      assertEquals(noScope.status, 403);
      await noScope.body?.cancel();

      // A stored token, then revoked with the CLI while serve runs.
      const created = await runCli(
        ["token", "create", "--scope", "power:write", "--json"],
        { env: { A3S_HOME: home } },
      );
      assertEquals(created.code, 0, created.stderr);
      const stored = JSON.parse(created.stdout);
      const revoke = await runCli(["token", "revoke", stored.id], { env: { A3S_HOME: home } });
      assertEquals(revoke.code, 0, revoke.stderr);
      const revoked = await pull(outside, { "x-api-key": stored.token });
      assertEquals(revoked.status, 401);
      await revoked.body?.cancel();

      // With the right token, the access policy still refuses paths and URLs.
      const auth = { authorization: `Bearer ${admin}` };
      for (
        const source of [
          outside,
          "/etc",
          "file:///etc/passwd",
          "http://169.254.169.254/latest/meta-data/",
          `http://127.0.0.1:${port}/api/tags`,
        ]
      ) {
        const response = await pull(source, auth);
        assertEquals(response.status, 403, source);
        const body = await response.json();
        assert(!JSON.stringify(body).includes("does not exist"), "no existence oracle");
      }

      const after = await snapshot(home);
      assertEquals(after, before, "refused requests must not touch the data dir");
      await new Promise((r) => setTimeout(r, 100)); // let the last log lines arrive
      const reasons = refusals(serve.logs()).map((r) => r.reason);
      for (
        const reason of ["bad_origin", "bad_host", "unauthenticated", "missing_scope", "bad_token"]
      ) {
        assert(reasons.includes(reason), `${reason} logged; got ${reasons.join(",")}`);
      }
      const metrics = await (await fetch(`${serve.url}/metrics`)).text();
      assert(metrics.includes('a3s_security_denials_total{reason="bad_host"}'));

      // Defect 8: absurd methods are one bounded label; 405 names what is allowed.
      const weird = await fetch(`${serve.url}/api/tags`, { method: "X".repeat(2000) });
      await weird.body?.cancel();
      const wrongMethod = await fetch(`${serve.url}/api/tags`, { method: "DELETE" });
      assertEquals(wrongMethod.status, 405);
      assert(wrongMethod.headers.get("allow")?.includes("GET"));
      await wrongMethod.body?.cancel();
      const text = await (await fetch(`${serve.url}/metrics`)).text();
      assert(!text.includes("XXXXXXXX"), "unknown methods are not labels");
      assert(text.includes('method="other"'));
    } finally {
      await serve.stop();
      await Deno.remove(home, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "serve: the official openai and ollama clients work with no key on loopback",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-sec-clients-" });
    const serve = await spawnServe([], { A3S_HOME: home });
    try {
      await waitReady(serve.url);
      // The openai client insists on a key; Ollama's docs say any string works, and so it does.
      const openai = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "ollama" });
      const models = await openai.models.list();
      assert(models.data.length > 0);
      const chat = await openai.chat.completions.create({
        model: models.data[0].id,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 2,
      });
      assert(chat.choices.length === 1);
      const ollama = new Ollama({ host: serve.url });
      assert((await ollama.list()).models.length > 0);
    } finally {
      await serve.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "serve on 0.0.0.0: refuses to start without a token; with one, clients need it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-sec-public-" });
    try {
      const refused = await runCli(["serve", "--host", "0.0.0.0", "--port", "0"], {
        env: { A3S_HOME: home, A3S_TOKENS: "" },
      });
      assertEquals(refused.code, 2);
      assert(refused.stderr.includes("--insecure-no-auth-on-public-bind"), refused.stderr);
      const badConfig = await runCli(["serve", "--port", "0"], {
        env: { A3S_HOME: home, A3S_REQUESTS_PER_MINUTE: "lots" },
      });
      assertEquals(badConfig.code, 2);
      assert(
        /config security\.requestsPerMinute: .*\(from env A3S_REQUESTS_PER_MINUTE\)/.test(
          badConfig.stderr,
        ),
        badConfig.stderr,
      );

      const key = "public-token-0123456789";
      const serve = await spawnServe(["--host", "0.0.0.0"], {
        A3S_HOME: home,
        A3S_TOKENS: `${key}=power:read`,
      });
      try {
        const url = serve.url.replace("0.0.0.0", "127.0.0.1");
        assertEquals((await (await fetch(`${url}/healthz`)).json()).status, "ok");
        const keyless = new OpenAI({ baseURL: `${url}/v1`, apiKey: "ollama", maxRetries: 0 });
        let status = 0;
        try {
          await keyless.models.list();
        } catch (error) {
          status = (error as { status: number }).status;
        }
        assertEquals(status, 401);
        const keyed = new OpenAI({ baseURL: `${url}/v1`, apiKey: key });
        assert((await keyed.models.list()).data.length > 0);
        const ollama = new Ollama({ host: url, headers: { authorization: `Bearer ${key}` } });
        assert(Array.isArray((await ollama.list()).models));
        const anonymousOllama = new Ollama({ host: url });
        let failed = false;
        try {
          await anonymousOllama.list();
        } catch {
          failed = true;
        }
        assert(failed, "the ollama client without a key is refused on a public bind");
      } finally {
        await serve.stop();
      }
      const open = await spawnServe(["--host", "0.0.0.0", "--insecure-no-auth-on-public-bind"], {
        A3S_HOME: home,
        A3S_TOKENS: "",
      });
      try {
        const url = open.url.replace("0.0.0.0", "127.0.0.1");
        const tags = await fetch(`${url}/api/tags`);
        assertEquals(tags.status, 200);
        assert(Array.isArray((await tags.json()).models));
      } finally {
        await open.stop();
      }
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
