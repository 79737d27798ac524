import { assert, assertEquals } from "@a3s/common/testing";
import { config, startBackend } from "./_test_support.ts";
import { curlHttps } from "./_test_pki.ts";
import { freePort, pebbleInstalled, startPebble } from "./_test_pebble.ts";
import { AcmeChallenges } from "./acme_challenges.ts";
import { AcmeManager } from "./acme.ts";
import { CertificateStore, describeCertificate } from "./certificates.ts";
import { startGateway } from "./server.ts";

Deno.test({
  name:
    "ACME: pebble validates HTTP-01 on our listener; the certificate is stored, served and renewed",
  ignore: !pebbleInstalled(),
  sanitizeResources: false, // acme-client's keep-alive agent outlives the test by a moment
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  const echo = startBackend("echo");
  const store = new CertificateStore();
  const challenges = new AcmeChallenges();
  const running = await startGateway({
    port: freePort(),
    httpsPort: 0,
    certificates: store,
    acmeChallenges: challenges,
    config: config({
      services: { echo: { backends: [{ url: echo.url }] } },
      routers: { r: { rule: {}, service: "echo" } },
    }),
  });
  const pebble = await startPebble(dir, running.port);
  const manager = new AcmeManager({
    directoryUrl: pebble.directoryUrl,
    domains: ["shop.test", "api.test"],
    dataDir: `${dir}/acme`,
    email: "ops@example.com",
    caCerts: [pebble.apiCa],
    selfCheck: false, // only pebble's DNS knows that *.test is 127.0.0.1
    store,
    challenges,
  });
  try {
    assertEquals((await manager.ensure()).sort(), ["api.test", "shop.test"]);
    assertEquals(challenges.size, 0); // answers are withdrawn once validated
    const rootFile = `${dir}/root.pem`;
    await Deno.writeTextFile(rootFile, await pebble.issuingRoot());
    for (const name of ["shop.test", "api.test"]) {
      const res = await curlHttps(name, running.httpsPort!, "/hello", rootFile);
      assert(res.ok, `${name}: ${res.error}`);
      assertEquals(JSON.parse(res.body).path, "/hello");
    }
    const stored = await Deno.readTextFile(manager.certFile("shop.test"));
    assertEquals(describeCertificate("shop", stored).names, ["shop.test"]);
    assertEquals((await Deno.stat(`${dir}/acme/shop.test.key`)).mode! & 0o777, 0o600);

    // Nothing is due: a second run orders nothing and serves what is stored.
    assertEquals(await manager.ensure(), []);
    // A fresh manager (a restart) serves the stored certificates without ordering.
    const restarted = new CertificateStore();
    const again = new AcmeManager({
      directoryUrl: pebble.directoryUrl,
      domains: ["shop.test"],
      dataDir: `${dir}/acme`,
      caCerts: [pebble.apiCa],
      selfCheck: false, // only pebble's DNS knows that *.test is 127.0.0.1
      store: restarted,
      challenges,
    });
    assertEquals(await again.ensure(), []);
    assertEquals(restarted.lookup("shop.test")?.cert, stored);

    // Renewal: with a window longer than the certificate's life, it is due now.
    const renewing = new AcmeManager({
      directoryUrl: pebble.directoryUrl,
      domains: ["shop.test"],
      dataDir: `${dir}/acme`,
      caCerts: [pebble.apiCa],
      selfCheck: false, // only pebble's DNS knows that *.test is 127.0.0.1
      renewBeforeMs: 100 * 365 * 86_400_000,
      store,
      challenges,
    });
    assertEquals(await renewing.ensure(), ["shop.test"]);
    const renewed = await Deno.readTextFile(manager.certFile("shop.test"));
    assert(renewed !== stored, "the renewal kept the old certificate");
    assertEquals(store.lookup("shop.test")?.cert, renewed);
    // The listener that had answered shop.test is replaced; without --unstable-net a
    // connection can be refused for a moment while it rebinds, so allow a retry.
    let res = await curlHttps("shop.test", running.httpsPort!, "/", rootFile);
    if (!res.ok) res = await curlHttps("shop.test", running.httpsPort!, "/", rootFile);
    assert(res.ok, res.error);
  } finally {
    manager.close();
    await pebble.close();
    await running.close();
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ACME: the challenge answer is served before any router, only for published tokens", async () => {
  const echo = startBackend("echo");
  const challenges = new AcmeChallenges();
  const running = await startGateway({
    port: 0,
    acmeChallenges: challenges,
    config: config({
      services: { echo: { backends: [{ url: echo.url }] } },
      routers: { r: { rule: {}, service: "echo" } },
    }),
  });
  try {
    challenges.set("tok-1", "tok-1.thumbprint");
    const url = `http://127.0.0.1:${running.port}/.well-known/acme-challenge/`;
    const hit = await fetch(`${url}tok-1`);
    assertEquals(await hit.text(), "tok-1.thumbprint");
    const miss = await fetch(`${url}other`);
    assertEquals((await miss.json()).backend, "echo");
    challenges.delete("tok-1");
    const gone = await fetch(`${url}tok-1`);
    assertEquals((await gone.json()).backend, "echo");
  } finally {
    await running.close();
    await echo.close();
  }
});
