/**
 * Regression tests for what a hostile user found in power's routes, each against a real
 * server on a free port: writes outside the store, schemas that freeze the server or ignore
 * the token limit, self-copies, work after a disconnect, long durations, 500s for bad input,
 * and errors that tell too much.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  A3sError,
  AccessPolicy,
  createLogger,
  loadConfig,
  type RunningServer,
  startServer,
} from "@a3s/common";
import { powerModule } from "./routes.ts";
import { Power, type PowerOptions } from "./service.ts";

const TINY = fileURLToPath(new URL("./testdata/tiny", import.meta.url));
const WRITE_TOKEN = "hostile-write-token-0123456789";
const AUTH = { authorization: `Bearer ${WRITE_TOKEN}` };

interface Served {
  server: RunningServer;
  home: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

async function withServer(
  fn: (served: Served) => Promise<void>,
  options: (home: string) => Partial<PowerOptions> = () => ({}),
) {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-hostile-" });
  const server = await startServer({
    config: {
      ...loadConfig({ flags: { port: 0, home }, env: {} }),
      security: { tokens: [{ token: WRITE_TOKEN, scopes: ["power:read", "power:write"] }] },
    },
    modules: [powerModule({ models: { tiny: TINY }, noDefaultModel: true, ...options(home) })],
    logger: createLogger("silent"),
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  try {
    await fn({ server, home, post });
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

/** An object of 40 required integers: a long, constrained generation for the tiny model. */
const WIDE_KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`);
const WIDE = {
  type: "object",
  properties: Object.fromEntries(WIDE_KEYS.map((k) => [k, { type: "integer" }])),
  required: WIDE_KEYS,
};

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** CPU seconds this process spends over `ms` milliseconds. */
async function cpuSecondsOver(ms: number): Promise<number> {
  const start = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

Deno.test("a pull whose URL ends in an encoded ../ writes only inside its own temp folder", async () => {
  const outside = await Deno.makeTempDir({ prefix: "a3s-power-outside-" });
  const archive = await Deno.makeTempFile({ suffix: ".tar.gz" });
  const tar = new Deno.Command("tar", { args: ["-czf", archive, "-C", dirname(TINY), "tiny"] });
  assert((await tar.output()).success);
  const files = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async () => new Response(await Deno.readFile(archive)),
  );
  try {
    await withServer(async ({ post }) => {
      const escape = encodeURIComponent(`${"../".repeat(8)}${outside.slice(1)}/pwned.tar.gz`);
      const source = `http://127.0.0.1:${files.addr.port}/${escape}`;
      const response = await post("/api/pull", { model: "evil", source, stream: false }, AUTH);
      // The archive itself is a good model: the pull succeeds, under the name asked for.
      assertEquals(response.status, 200, await response.clone().text());
      await response.body?.cancel();
      assertEquals([...Deno.readDirSync(outside)], []);
      const shown = await post("/api/show", { model: "evil" });
      assertEquals(shown.status, 200);
      await shown.body?.cancel();
    }, () => ({ policy: new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] }) }));
  } finally {
    await files.shutdown();
    await Deno.remove(outside, { recursive: true });
    await Deno.remove(archive);
  }
});

Deno.test("schemas that cannot fit are 400s, and /healthz answers during constrained decoding", async () => {
  await withServer(async ({ server, post }) => {
    const chat = (format: unknown, options: Record<string, unknown> = {}) =>
      post("/api/chat", {
        model: "tiny",
        messages: [{ role: "user", content: "Fill it in" }],
        format,
        stream: false,
        options: { seed: 1, ...options },
      });
    const many = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [`property_${i}`, { type: "string" }]),
    );
    for (
      const format of [
        { type: "string", minLength: 1_000_000 },
        { type: "array", minItems: 1_000_000 },
        { type: "array", items: { type: "string", minLength: 100 }, minItems: 10_000 },
        { type: "object", properties: many, required: Object.keys(many) },
      ]
    ) {
      const started = performance.now();
      const response = await chat(format);
      const body = await response.json();
      assertEquals(response.status, 400, JSON.stringify(body));
      assert(/^format: the shortest output/.test(body.error), body.error);
      assert(performance.now() - started < 5_000, "refusing took too long");
    }

    // A long constrained generation runs while /healthz is polled: each answer comes fast.
    const generation = chat(WIDE, { num_predict: 400, temperature: 1 });
    let slowest = 0;
    let polls = 0;
    let done = false;
    generation.finally(() => (done = true));
    while (!done && polls < 200) {
      const started = performance.now();
      const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await health.body?.cancel();
      slowest = Math.max(slowest, performance.now() - started);
      polls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const reply = await (await generation).json();
    assert(polls > 0);
    assert(slowest < 1_000, `/healthz took ${slowest.toFixed(0)} ms during generation`);
    const value = JSON.parse(reply.message.content);
    assertEquals(Object.keys(value).length, 40);
  });
});

Deno.test("num_predict, max_tokens and the context bound structured and tool output", async () => {
  await withServer(async ({ post }) => {
    const list = { type: "array", items: { type: "integer" }, minItems: 100 };
    const generated = await post("/api/generate", {
      model: "tiny",
      prompt: "Numbers",
      format: list,
      stream: false,
      options: { num_predict: 40, seed: 1 },
    });
    const body = await generated.json();
    assertEquals(generated.status, 200, JSON.stringify(body));
    assert(body.eval_count <= 40, `eval_count ${body.eval_count}`);
    assertEquals(body.done_reason, "length");

    const completed = await post("/v1/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "Numbers" }],
      response_format: { type: "json_schema", json_schema: { name: "list", schema: list } },
      max_tokens: 30,
      seed: 2,
    });
    const completion = await completed.json();
    assertEquals(completed.status, 200, JSON.stringify(completion));
    assert(completion.usage.completion_tokens <= 30, JSON.stringify(completion.usage));
    assertEquals(completion.choices[0].finish_reason, "length");

    // A tool whose arguments cannot fit is refused; under "auto" the limit still holds.
    const tool = {
      type: "function",
      function: {
        name: "numbers",
        parameters: {
          type: "object",
          properties: { xs: { type: "array", items: { type: "integer" }, minItems: 3000 } },
          required: ["xs"],
        },
      },
    };
    const forced = await post("/v1/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "Numbers" }],
      tools: [tool],
      tool_choice: "required",
      max_tokens: 40,
    });
    const forcedBody = await forced.json();
    assertEquals(forced.status, 400, JSON.stringify(forcedBody));
    assertEquals(forcedBody.error.param, "tools");
    for (const seed of [1, 2, 3]) {
      const auto = await post("/v1/chat/completions", {
        model: "tiny",
        messages: [{ role: "user", content: "Numbers" }],
        tools: [tool],
        max_tokens: 40,
        seed,
        temperature: 1.5,
      });
      const autoBody = await auto.json();
      assertEquals(auto.status, 200, JSON.stringify(autoBody));
      assert(autoBody.usage.completion_tokens <= 40, JSON.stringify(autoBody.usage));
    }
  });
});

Deno.test("copying a model onto itself keeps it; deleting a/b/c:h leaves no empty folders", async () => {
  await withServer(async ({ home, post }) => {
    const copy = (source: string, destination: string) =>
      post("/api/copy", { source, destination }, AUTH);
    assertEquals((await copy("tiny", "probe-a")).status, 200);
    assertEquals((await copy("probe-a", "probe-a:latest")).status, 200);
    const shown = await post("/api/show", { model: "probe-a" });
    assertEquals(shown.status, 200);
    await shown.body?.cancel();
    const nested = await copy("probe-a", "probe-a/latest:inner");
    assertEquals(nested.status, 400);
    await nested.body?.cancel();

    assertEquals((await copy("tiny", "a/b/c:h")).status, 200);
    assert(await exists(join(home, "models", "a", "b", "c", "h", "config.json")));
    const removed = await fetch(`${new URL(shown.url).origin}/api/delete`, {
      method: "DELETE",
      headers: { "content-type": "application/json", ...AUTH },
      body: JSON.stringify({ model: "a/b/c:h" }),
    });
    assertEquals(removed.status, 200);
    assert(!(await exists(join(home, "models", "a"))), "empty folders were left behind");
    assert(await exists(join(home, "models", "probe-a", "latest", "config.json")));
  });
});

// Deno 2.9 reports a client's disconnect through `request.signal` only while a request's body
// was small (a few hundred bytes): past that it notices only when the response is written, and
// `--unstable-no-legacy-abort` does not change it. These requests keep their bodies small, so
// this is power's part: stop as soon as the signal fires. The next test covers large bodies.
Deno.test("non-streaming generate and completions stop when the client leaves", async () => {
  await withServer(async ({ server }) => {
    const requests = [
      ["/v1/completions", {
        model: "tiny",
        prompt: Array.from({ length: 20 }, (_, i) => `Story ${i}`),
        n: 8,
        max_tokens: 400,
      }],
      ["/v1/chat/completions", {
        model: "tiny",
        messages: [{ role: "user", content: "Go on" }],
        n: 8,
        max_tokens: 400,
      }],
      // A long required string keeps the tiny model writing for hundreds of tokens.
      ["/api/generate", {
        model: "tiny",
        prompt: "Go on",
        stream: false,
        format: { type: "string", minLength: 400 },
      }],
    ] as const;
    for (const [path, body] of requests) {
      const controller = new AbortController();
      const pending = fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: controller.signal,
      }).catch(() => undefined);
      // Let the work get going, then leave while it still runs (no answer has come yet). A warm
      // generate of the 400 characters takes about 170 ms here, so leaving later races it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      assertEquals(await pending, undefined, `${path} finished before the client left`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const after = await cpuSecondsOver(1_000);
      assert(after < 0.25, `${path} used ${after.toFixed(2)} CPU-seconds after the disconnect`);
    }
  });
});

// Past a few hundred bytes of body Deno no longer reports the disconnect itself; the
// connection guard in front of it does, through the same request signal.
Deno.test("large non-streaming generate and embeddings stop when the client leaves", async () => {
  await withServer(async ({ server }) => {
    const inputs = Array.from({ length: 3000 }, (_, i) => `text number ${i} to embed`);
    const requests = [
      // 64 KiB of JSON whitespace pads the body without changing the request.
      ["/api/generate", {
        model: "tiny",
        prompt: "Go on",
        stream: false,
        options: { num_predict: 100_000, temperature: 1 },
        format: { type: "string", minLength: 400 },
      }, 64 * 1024],
      ["/api/embed", { model: "tiny", input: inputs }, 0],
      ["/v1/embeddings", { model: "tiny", input: inputs }, 0],
    ] as const;
    for (const [path, body, padding] of requests) {
      const payload = JSON.stringify(body) + " ".repeat(padding);
      assert(payload.length > 32 * 1024, `${path}: the body is only ${payload.length} bytes`);
      const controller = new AbortController();
      const started = performance.now();
      const pending = fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
        signal: controller.signal,
      }).catch(() => undefined);
      // Let the work get going, then leave while it still runs (no answer has come yet). As in
      // the test above, 50 ms: the 400 characters, all the tiny model's context leaves room for,
      // came back within 300 ms once.
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      assertEquals(await pending, undefined, `${path} finished before the client left`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = await cpuSecondsOver(1_500);
      assert(
        after < 0.2,
        `${path} used ${after.toFixed(2)} CPU-seconds over 1.5 s after the disconnect`,
      );
      // The server is free again at once.
      const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      assertEquals(health.status, 200);
      await health.body?.cancel();
      assert(performance.now() - started < 20_000, `${path} took too long`);
    }
  });
});

Deno.test("embedding thousands of inputs stops when its signal is aborted", async () => {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-hostile-" });
  const power = new Power({ home, models: { tiny: TINY }, noDefaultModel: true });
  try {
    const controller = new AbortController();
    const inputs = Array.from({ length: 3000 }, (_, i) => `text ${i}`);
    const embedding = power.embed("tiny", inputs, { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const started = performance.now();
    const error = await embedding.then(() => undefined, (e) => e);
    assert(error instanceof A3sError && error.status === 499, String(error));
    assert(performance.now() - started < 3_000, "the embedding ran on after the abort");
  } finally {
    await power.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("long keep_alive values schedule correctly; absurd ones are 400s", async () => {
  await withServer(async ({ server, post }) => {
    const load = await post("/api/generate", { model: "tiny", keep_alive: "1000h" });
    assertEquals(load.status, 200);
    await load.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { models } = await (await fetch(`${server.url}/api/ps`)).json();
    assertEquals(models.map((m: { name: string }) => m.name), ["tiny:latest"]);
    const hours = (Date.parse(models[0].expires_at) - Date.now()) / 3_600_000;
    assert(hours > 999 && hours <= 1000, `expires in ${hours} h`);
    for (const keep_alive of ["99999999h", 1e12, "1e400"]) {
      const response = await post("/api/generate", { model: "tiny", keep_alive });
      const body = await response.json();
      assertEquals(response.status, 400, JSON.stringify(body));
      assert(/^keep_alive/.test(body.error), body.error);
    }
  });
});

Deno.test("bad prompts, context ids and context sizes are 400s naming the field", async () => {
  await withServer(async ({ post }) => {
    const cases: [string, unknown, RegExp][] = [
      ["/v1/completions", { model: "tiny", prompt: "" }, /^prompt/],
      ["/v1/completions", { model: "tiny", prompt: ["ok", ""] }, /^prompt\.1/],
      ["/api/generate", { model: "tiny", prompt: "", raw: true, stream: false }, /^prompt/],
      ["/api/generate", { model: "tiny", prompt: "x", context: [6144] }, /^context\.0/],
      ["/api/generate", { model: "tiny", prompt: "x", context: [999999999] }, /^context\.0/],
      ["/api/generate", { model: "tiny", prompt: "x", context: [-1] }, /^context\.0/],
      ["/api/chat", {
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        truncate: true,
        options: { num_ctx: 1 },
      }, /^options\.num_ctx/],
    ];
    for (const [path, body, field] of cases) {
      const response = await post(path, body);
      const answer = await response.json();
      assertEquals(
        response.status,
        400,
        `${path} ${JSON.stringify(body)}: ${JSON.stringify(answer)}`,
      );
      const message = path.startsWith("/v1/") ? answer.error.param : answer.error;
      assert(field.test(message), `${path}: ${JSON.stringify(answer)}`);
    }
    const schema = await post("/v1/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "x" }],
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "bad",
          schema: { type: "object", properties: { a: { type: "date" } } },
        },
      },
    });
    const schemaError = await schema.json();
    assertEquals(schema.status, 400);
    assert(
      schemaError.error.param.startsWith("response_format.json_schema.schema"),
      JSON.stringify(schemaError),
    );
  });
});

Deno.test("deleting the default model is refused and keeps it loaded; show hides host paths", async () => {
  await withServer(async ({ server, home, post }) => {
    const load = await post("/api/generate", { model: "tiny", keep_alive: "5m" });
    await load.body?.cancel();
    const removed = await fetch(`${server.url}/api/delete`, {
      method: "DELETE",
      headers: { "content-type": "application/json", ...AUTH },
      body: JSON.stringify({ model: "tiny" }),
    });
    assertEquals(removed.status, 400);
    await removed.body?.cancel();
    const { models } = await (await fetch(`${server.url}/api/ps`)).json();
    assertEquals(models.map((m: { name: string }) => m.name), ["tiny:latest"]);

    const shown = await (await post("/api/show", { model: "tiny" })).text();
    assert(!shown.includes(TINY) && !shown.includes(home), shown.slice(0, 200));
  });
});

Deno.test("pull errors do not tell whether a host path exists or a local port is open", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await withServer(async ({ post }) => {
      const answer = async (source: string) => {
        const response = await post("/api/pull", { model: "x", source, stream: false }, AUTH);
        return `${response.status} ${await response.text()}`;
      };
      const open = (listener.addr as Deno.NetAddr).port;
      assertEquals(await answer("/etc"), await answer("/no/such/path"));
      assertEquals(
        await answer(`http://127.0.0.1:${open}/m.tar.gz`),
        await answer("http://127.0.0.1:1/m.tar.gz"),
      );
    });
  } finally {
    listener.close();
  }
});
