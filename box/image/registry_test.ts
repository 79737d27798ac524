import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { addBusybox, startRegistry, testHome } from "../_test_support.ts";
import { RegistryClient } from "./registry.ts";
import { ImageStore } from "./store.ts";
import { busyboxImage } from "./busybox.ts";
import { MEDIA } from "./oci.ts";
import { join } from "node:path";

Deno.test("push to and pull from a real registry, with digests verified", async () => {
  const registry = await startRegistry();
  if (!registry) return;
  const source = await testHome();
  const target = await testHome();
  try {
    const id = await addBusybox(source.images);
    const pushed = await new RegistryClient(source.images).push(
      "busybox:latest",
      `${registry.host}/tools/busybox:1`,
    );
    assertEquals(pushed, id);

    const pulled = await new RegistryClient(target.images).pull(`${registry.host}/tools/busybox:1`);
    assertEquals(pulled, id);
    const listed = await target.images.list();
    assertEquals(listed[0].repoTags, [`${registry.host}/tools/busybox:1`]);
    const rootfs = await target.images.rootfs(id);
    assert((await Deno.lstat(join(rootfs, "bin/busybox"))).isFile);
    assertEquals(await Deno.readLink(join(rootfs, "bin/sh")), "/bin/busybox");

    // By digest, too.
    const byDigest = await new RegistryClient(target.images).pull(
      `${registry.host}/tools/busybox@${id}`,
    );
    assertEquals(byDigest, id);
    await assertRejects(
      () => new RegistryClient(target.images).pull(`${registry.host}/tools/absent:1`),
      Error,
      "not found",
    );
  } finally {
    await source.close();
    await target.close();
    await registry.close();
  }
});

Deno.test("a pulled blob whose bytes do not match its digest is refused", async () => {
  const home = await testHome();
  try {
    const images = await ImageStore.open(home.store, join(home.home, "other"));
    await assertRejects(
      () => images.putBlob(new Uint8Array([1, 2, 3]), `sha256:${"0".repeat(64)}`),
      Error,
      "does not match",
    );
  } finally {
    await home.close();
  }
});

Deno.test("pull picks the host's platform from a multi-arch index", async () => {
  const registry = await startRegistry();
  if (!registry) return;
  const source = await testHome();
  const target = await testHome();
  try {
    const amd64 = await addBusybox(source.images);
    const { layer, config } = await busyboxImage();
    const arm64 = await source.images.createImage(
      [layer],
      { ...config, architecture: "arm64" },
      ["busybox:arm64"],
    );
    const client = new RegistryClient(source.images);
    await client.push("busybox:latest", `${registry.host}/multi/bb:amd64`);
    await client.push("busybox:arm64", `${registry.host}/multi/bb:arm64`);
    const descriptor = async (id: string, architecture: string) => ({
      mediaType: MEDIA.ociManifest,
      digest: id,
      size: (await source.images.getBlob(id)).length,
      platform: { architecture, os: "linux" },
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [await descriptor(arm64, "arm64"), await descriptor(amd64, "amd64")],
    });
    const put = await fetch(`http://${registry.host}/v2/multi/bb/manifests/latest`, {
      method: "PUT",
      headers: { "content-type": MEDIA.ociIndex },
      body: index,
    });
    await put.body?.cancel();
    assertEquals(put.status, 201);
    const pulled = await new RegistryClient(target.images).pull(`${registry.host}/multi/bb:latest`);
    assertEquals(pulled, Deno.build.arch === "x86_64" ? amd64 : arm64);
  } finally {
    await source.close();
    await target.close();
    await registry.close();
  }
});

Deno.test("pull answers a bearer-token challenge, as Docker Hub and GHCR ask", async () => {
  const registry = await startRegistry();
  if (!registry) return;
  const source = await testHome();
  const target = await testHome();
  const token = crypto.randomUUID();
  const scopes: string[] = [];
  // A gate in front of the real registry that speaks the distribution spec's token flow:
  // 401 with a Bearer challenge, a realm that issues tokens, then the registry's own answers.
  const gate: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/token") {
      scopes.push(url.searchParams.get("scope") ?? "");
      return Response.json({ token });
    }
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return new Response("{}", {
        status: 401,
        headers: {
          "www-authenticate":
            `Bearer realm="http://127.0.0.1:${gate.addr.port}/token",service="test",scope="repository:gated/bb:pull"`,
        },
      });
    }
    const upstream = await fetch(`http://${registry.host}${url.pathname}${url.search}`, {
      method: request.method,
      headers: { accept: request.headers.get("accept") ?? "*/*" },
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
  try {
    const id = await addBusybox(source.images);
    await new RegistryClient(source.images).push("busybox:latest", `${registry.host}/gated/bb:1`);
    const pulled = await new RegistryClient(target.images).pull(
      `127.0.0.1:${gate.addr.port}/gated/bb:1`,
    );
    assertEquals(pulled, id);
    assertEquals(scopes[0], "repository:gated/bb:pull");
  } finally {
    await gate.shutdown();
    await source.close();
    await target.close();
    await registry.close();
  }
});

Deno.test("an unreachable registry or token service is a named 502 saying which host", async () => {
  const home = await testHome();
  try {
    const offline = new RegistryClient(home.images, {
      fetch: () => Promise.reject(new TypeError("dns error: no such host")),
    });
    const error = await assertRejects(
      () => offline.pull("evil.example/evil/img:latest"),
      A3sError,
    );
    assertEquals([error.code, error.status], ["registry_error", 502]);
    assertEquals(error.message, "cannot reach registry evil.example: dns error: no such host");

    const challenge = new Response("{}", {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="https://auth.evil.example/token"' },
    });
    const tokenless = new RegistryClient(home.images, {
      fetch: (url) =>
        new URL(url).host === "auth.evil.example"
          ? Promise.reject(new TypeError("connection refused"))
          : Promise.resolve(challenge.clone()),
    });
    const refused = await assertRejects(
      () => tokenless.pull("evil.example/evil/img:latest"),
      A3sError,
    );
    assertEquals(refused.status, 502);
    assertEquals(
      refused.message,
      "cannot reach registry evil.example: its token service auth.evil.example: connection refused",
    );
  } finally {
    await home.close();
  }
});

/** What a hostile registry answers: a body (and headers) per path under `/v2/evil/img/`. */
type Answers = Record<string, { body: Uint8Array | string; headers?: Record<string, string> }>;

/** A fetch that plays a registry answering with `answers`, everything else 404. */
function hostileRegistry(answers: Answers) {
  return (url: string): Promise<Response> => {
    const path = new URL(url).pathname.replace("/v2/evil/img/", "");
    const answer = answers[path];
    if (!answer) return Promise.resolve(new Response("absent", { status: 404 }));
    const body = typeof answer.body === "string"
      ? answer.body
      : answer.body as Uint8Array<ArrayBuffer>;
    return Promise.resolve(new Response(body, { headers: answer.headers }));
  };
}

Deno.test("a registry's answers that are no image are refused as 502s naming what was wrong", async () => {
  const home = await testHome();
  const encoder = new TextEncoder();
  const { digestOf } = await import("./oci.ts");
  const badConfig = encoder.encode(JSON.stringify({ config: { Env: 5 } }));
  const badConfigDigest = await digestOf(badConfig);
  const manifest = (config: unknown, layers: unknown = []) =>
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers });
  const descriptor = (digest: string, size: number) => ({
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest,
    size,
  });
  const cases: [string, Answers, string][] = [
    ["not JSON", { "manifests/latest": { body: "<html>" } }, "is not JSON"],
    ["null", { "manifests/latest": { body: "null" } }, "is invalid: Invalid input"],
    [
      "layers not a list",
      { "manifests/latest": { body: manifest(descriptor(badConfigDigest, 1), "x") } },
      "is invalid: layers:",
    ],
    [
      "a digest that is a path",
      { "manifests/latest": { body: manifest(descriptor("sha256:../../../etc/passwd", 1)) } },
      "config.digest: must be a sha256 digest",
    ],
    [
      "an index whose manifests is no list",
      {
        "manifests/latest": {
          body: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: "x" }),
        },
      },
      "the index of",
    ],
    [
      "a manifest over 4 MiB",
      {
        "manifests/latest": {
          body: "{}",
          headers: { "content-length": String(5 * 1024 * 1024) },
        },
      },
      "more than 4194304",
    ],
    [
      "a blob longer than its manifest says",
      {
        "manifests/latest": { body: manifest(descriptor(badConfigDigest, 3)) },
        [`blobs/${badConfigDigest}`]: { body: badConfig },
      },
      "more than 3 bytes",
    ],
    [
      "a config whose Env is no list",
      {
        "manifests/latest": { body: manifest(descriptor(badConfigDigest, badConfig.length)) },
        [`blobs/${badConfigDigest}`]: { body: badConfig },
      },
      "the config of evil.example/evil/img:latest from evil.example is invalid: config.Env",
    ],
  ];
  try {
    for (const [name, answers, message] of cases) {
      const client = new RegistryClient(home.images, { fetch: hostileRegistry(answers) });
      const error = await assertRejects(
        () => client.pull("evil.example/evil/img:latest"),
        Error,
        message,
      );
      assertEquals((error as { status?: number }).status, 502, name);
    }
    assertEquals(await home.images.list(), []);
  } finally {
    await home.close();
  }
});
