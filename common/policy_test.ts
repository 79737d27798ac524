import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { join } from "node:path";
import { AccessPolicy, accessPolicyFromConfig, PolicyError } from "./policy.ts";
import { isNonPublicAddress } from "./security/addresses.ts";
import { A3sError, UsageError } from "./errors.ts";

Deno.test("addresses: private, loopback, link-local and embedded forms are non-public", () => {
  for (
    const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.31.255.255",
      "192.168.0.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fd00:ec2::254",
      "::ffff:127.0.0.1",
      "::ffff:a9fe:a9fe",
      "64:ff9b::a9fe:a9fe",
      "2002:7f00:1::",
      "[::1]",
      "not-an-address",
    ]
  ) assert(isNonPublicAddress(address), address);
  for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]) {
    assert(!isNonPublicAddress(address), address);
  }
});

Deno.test("resolvePath: only real paths under a root; every refusal reads the same", async () => {
  const base = await Deno.makeTempDir({ prefix: "a3s-policy-" });
  try {
    const root = join(base, "root");
    await Deno.mkdir(join(root, "models", "tiny"), { recursive: true });
    await Deno.mkdir(join(base, "secret"));
    await Deno.writeTextFile(join(base, "secret", "key"), "s3cret");
    await Deno.symlink(join(base, "secret"), join(root, "escape"));
    const audit: string[] = [];
    const policy = new AccessPolicy({ roots: [root] }, { audit: (event) => audit.push(event) });

    assertEquals(
      await policy.resolvePath(join(root, "models", "tiny"), "model"),
      await Deno.realPath(join(root, "models", "tiny")),
    );
    const refusals = [
      join(base, "secret"), // exists, outside
      join(base, "missing"), // does not exist, outside
      join(root, "..", "secret", "key"), // dot-dot
      join(root, "escape", "key"), // symlink out of the root
      join(root, "models", "nope"), // missing inside: same answer, nothing to probe
    ];
    const messages = new Set<string>();
    for (const path of refusals) {
      const error = await assertRejects(() => policy.resolvePath(path, "model"), PolicyError);
      assertEquals(error.status, 403);
      assertEquals(error.field, "model");
      messages.add(error.message);
    }
    assertEquals(messages.size, 1, "refusals must not reveal whether a path exists");
    assertEquals(audit.length, refusals.length);

    const none = new AccessPolicy({});
    await assertRejects(() => none.resolvePath(join(root, "models")), PolicyError);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("checkUrl: schemes, hosts, credentials and non-public addresses are refused", async () => {
  const policy = new AccessPolicy({}, { resolver: () => Promise.resolve(["93.184.216.34"]) });
  for (
    const url of [
      "file:///etc/passwd",
      "ftp://example.org/x",
      "http://169.254.169.254/latest/meta-data/",
      "http://2852039166/", // 169.254.169.254 as one decimal number
      "http://0x7f.1/",
      "http://[::ffff:169.254.169.254]/",
      "http://[::1]:11434/",
      "http://user:pw@example.org/",
      "not a url",
    ]
  ) {
    const refused = await policy.checkUrl(url, "model").then(
      () => false,
      (e) => e instanceof PolicyError,
    );
    assert(refused, `${url} must be refused`);
  }
  assertEquals((await policy.checkUrl("https://example.org/m.tgz")).address, "93.184.216.34");

  // A hostile DNS answer that mixes a public and a private address is refused.
  const rebinding = new AccessPolicy({}, {
    resolver: () => Promise.resolve(["93.184.216.34", "127.0.0.1"]),
  });
  await assertRejects(() => rebinding.checkUrl("https://evil.example/"), PolicyError);

  const listed = new AccessPolicy({ hosts: ["*.hf.example", "models.example"] }, {
    resolver: () => Promise.resolve(["93.184.216.34"]),
  });
  await listed.checkUrl("https://cdn.hf.example/x");
  await listed.checkUrl("https://models.example/x");
  await assertRejects(() => listed.checkUrl("https://hf.example.evil.org/x"), PolicyError);
  await assertRejects(() => listed.checkUrl("https://other.example/x"), PolicyError);

  const httpsOnly = new AccessPolicy({ schemes: ["https"] }, {
    resolver: () => Promise.resolve(["93.184.216.34"]),
  });
  await assertRejects(() => httpsOnly.checkUrl("http://example.org/"), PolicyError);
});

/** A local server that redirects on /go?to=URL and says which Host it saw elsewhere. */
function startTarget() {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    hits.push(url.pathname);
    const to = url.searchParams.get("to");
    if (to) return new Response(null, { status: 302, headers: { location: to } });
    return new Response(`host=${request.headers.get("host")}`);
  });
  return { server, hits, port: server.addr.port };
}

Deno.test("fetch: pinned to the checked address, redirects re-checked at each hop", async () => {
  const { server, hits, port } = startTarget();
  try {
    const audit: Record<string, unknown>[] = [];
    const policy = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] }, {
      resolver: (name) => Promise.resolve(name === "models.test" ? ["127.0.0.1"] : ["10.0.0.9"]),
      audit: (_event, fields) => audit.push(fields),
    });
    // The name resolves to the allowed address; Host keeps the name.
    const ok = await policy.fetch(`http://models.test:${port}/m.tgz`);
    assertEquals(await ok.text(), `host=models.test:${port}`);

    // One allowed hop, then a redirect to the metadata service, to ::1, to a private name.
    for (
      const target of [
        "http://169.254.169.254/latest/meta-data/",
        `http://[::1]:${port}/secret`,
        `http://internal.test:${port}/secret`,
        "file:///etc/passwd",
      ]
    ) {
      await assertRejects(
        () => policy.fetch(`http://127.0.0.1:${port}/go?to=${encodeURIComponent(target)}`),
        PolicyError,
      );
    }
    assert(!hits.includes("/secret"), "a refused hop must never be requested");
    assert(audit.length >= 4);

    // A loop of redirects stops at maxRedirects.
    const loop = `http://127.0.0.1:${port}/go?to=${encodeURIComponent("/go?to=/go")}`;
    await assertRejects(
      () => new AccessPolicy({ privateNetworks: ["127.0.0.0/8"], maxRedirects: 1 }).fetch(loop),
      PolicyError,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetch: a closed port and a refused address give the caller nothing to map ports with", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const { server, port } = startTarget();
  try {
    const policy = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] });
    const closed = await assertRejects(
      () => policy.fetch(`http://127.0.0.1:${closedPort}/x`, { field: "model" }),
      A3sError,
    );
    assertEquals(closed.status, 400);
    assertEquals(closed.message, "model: the URL could not be fetched");
    const open = await policy.fetch(`http://127.0.0.1:${port}/x`);
    assertEquals(open.status, 200);
    await open.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetch: HTTPS is checked, verified against the URL's name, and not pinned", async () => {
  const dir = new URL("./security/testdata/", import.meta.url);
  const ca = await Deno.readTextFile(new URL("ca.pem", dir));
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(new URL("localhost.pem", dir)),
    key: await Deno.readTextFile(new URL("localhost.key", dir)),
    onListen() {},
  }, (request) => new Response(`tls host=${new URL(request.url).host}`));
  try {
    const port = server.addr.port;
    const policy = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] }, {
      resolver: () => Promise.resolve(["127.0.0.1"]),
      caCerts: [ca],
    });
    const response = await policy.fetch(`https://127.0.0.1:${port}/m.tgz`);
    assertEquals(await response.text(), `tls host=127.0.0.1:${port}`);
    // Without the private allowance the same URL is refused before any connection.
    await assertRejects(
      () => new AccessPolicy({}, { caCerts: [ca] }).fetch(`https://127.0.0.1:${port}/`),
      PolicyError,
    );
    // An untrusted certificate is a failed fetch, worded like every other.
    const untrusted = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] });
    const error = await assertRejects(
      () => untrusted.fetch(`https://127.0.0.1:${port}/`),
      A3sError,
    );
    assertEquals(error.message, "the URL could not be fetched");
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetch: the connect deadline does not cut a long download short", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 60));
          if (n++ === 8) controller.close();
          else controller.enqueue(new TextEncoder().encode("chunk\n"));
        },
      }),
    );
  });
  try {
    const policy = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"], connectTimeoutMs: 200 });
    const response = await policy.fetch(`http://127.0.0.1:${server.addr.port}/big`);
    assertEquals((await response.text()).split("\n").length, 9);
  } finally {
    await server.shutdown();
  }
});

Deno.test("accessPolicyFromConfig: env overrides the file section; bad values name the key", () => {
  const policy = accessPolicyFromConfig(
    { policy: { roots: ["/a"], hosts: ["x.example"] } },
    { env: { A3S_ROOTS: "/srv/models, /data", A3S_PRIVATE_NETWORKS: "10.0.0.0/8" } },
  );
  assertEquals(policy.config.roots, ["/srv/models", "/data"]);
  assertEquals(policy.config.hosts, ["x.example"]);
  assertEquals(policy.config.privateNetworks, ["10.0.0.0/8"]);
  let error: unknown;
  try {
    accessPolicyFromConfig({}, { env: { A3S_PRIVATE_NETWORKS: "10.0.0.0/99" } });
  } catch (e) {
    error = e;
  }
  assert(error instanceof UsageError);
  assert(/policy\.privateNetworks\.0: .* \(from env A3S_PRIVATE_NETWORKS\)/.test(error.message));
});
