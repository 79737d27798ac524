import { assert, assertEquals } from "@a3s/common/testing";
import { config, startBackend } from "./_test_support.ts";
import { curlHttps, makeCa } from "./_test_pki.ts";
import { CertificateStore } from "./certificates.ts";
import { syncCertificateDir, watchCertificateDir } from "./certificate_files.ts";
import { startGateway } from "./server.ts";

/** Polls `check` until it holds or `ms` pass. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

Deno.test("SNI: each host name gets its own certificate, and a changed directory reloads them", async () => {
  const dir = await Deno.makeTempDir();
  const certs = `${dir}/certs`;
  await Deno.mkdir(certs);
  const ca = await makeCa(dir, "first");
  const second = await makeCa(dir, "second");
  await ca.issue(`${certs}/a`, ["a.test"]);
  await ca.issue(`${certs}/b`, ["b.test", "*.wild.test"]);
  const store = new CertificateStore();
  const stopWatching = await watchCertificateDir(certs, store, undefined, 50);
  const echo = startBackend("echo");
  const running = await startGateway({
    port: 0,
    certificates: store,
    config: config({
      services: { echo: { backends: [{ url: echo.url }] } },
      routers: { r: { rule: {}, service: "echo" } },
    }),
  });
  try {
    for (const name of ["a.test", "b.test", "x.wild.test"]) {
      const res = await curlHttps(name, running.port, "/who", ca.certFile);
      assert(res.ok, `${name}: ${res.error}`);
      assertEquals(res.httpVersion, "2");
      const body = JSON.parse(res.body);
      assertEquals(body.headers["x-forwarded-proto"], "https");
      assertEquals(body.headers["x-forwarded-for"], "127.0.0.1");
      assertEquals(body.headers["x-forwarded-host"], `${name}:${running.port}`);
    }
    // A name no certificate covers fails the handshake; a wildcard covers one label only.
    assert(!(await curlHttps("c.test", running.port, "/", ca.certFile)).ok);
    assert(!(await curlHttps("x.y.wild.test", running.port, "/", ca.certFile)).ok);

    // A new pair in the directory serves its name, and a replaced one its new chain, with no
    // restart; the connection count shows the listener was rebound, not restarted.
    await ca.issue(`${certs}/c`, ["c.test"]);
    await second.issue(`${certs}/a`, ["a.test"]);
    assert(
      await eventually(async () => (await curlHttps("c.test", running.port, "/", ca.certFile)).ok),
      "c.test never served",
    );
    assert(
      await eventually(async () =>
        (await curlHttps("a.test", running.port, "/", second.certFile)).ok
      ),
      "a.test never switched to the second CA's certificate",
    );
    assert(!(await curlHttps("a.test", running.port, "/", ca.certFile)).ok);
    assert((await curlHttps("b.test", running.port, "/", ca.certFile)).ok);

    // A removed pair stops serving its name.
    await Deno.remove(`${certs}/c.crt`);
    assert(
      await eventually(async () => !(await curlHttps("c.test", running.port, "/", ca.certFile)).ok),
      "c.test still served after its files were removed",
    );
  } finally {
    stopWatching();
    await running.close();
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SNI: a broken pair is reported and skipped, the good ones load", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ca = await makeCa(dir, "ca");
    await Deno.mkdir(`${dir}/certs`);
    await ca.issue(`${dir}/certs/good`, ["good.test"]);
    await Deno.writeTextFile(`${dir}/certs/bad.crt`, "not a certificate");
    await Deno.writeTextFile(`${dir}/certs/bad.key`, "-----BEGIN PRIVATE KEY-----\n");
    await Deno.writeTextFile(`${dir}/certs/lonely.crt`, ca.cert);
    const store = new CertificateStore();
    const result = await syncCertificateDir(`${dir}/certs`, store);
    assertEquals(result.loaded, [`${dir}/certs/good.crt`]);
    assertEquals(result.errors.length, 2);
    assert(result.errors[0].startsWith(`${dir}/certs/bad.crt: not a PEM certificate`));
    assert(result.errors[1].startsWith(`${dir}/certs/lonely.crt:`), result.errors[1]);
    assertEquals(store.lookup("GOOD.test.")?.names, ["good.test"]);
    assertEquals(store.lookup("")?.id, `${dir}/certs/good.crt`);
    assertEquals(store.lookup("other.test"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SNI: large bodies cross the TLS relay intact both ways", async () => {
  const dir = await Deno.makeTempDir();
  const ca = await makeCa(dir, "big");
  const store = new CertificateStore();
  store.set("big", await ca.issue(`${dir}/big`, ["big.test"]));
  // Echoes the uploaded body back, reversed, so a truncated or reordered relay shows.
  const echo = startBackend("echo", async (request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    return new Response(body.reverse());
  });
  const running = await startGateway({
    port: 0,
    certificates: store,
    config: config({
      services: { echo: { backends: [{ url: echo.url }] } },
      routers: { r: { rule: {}, service: "echo" } },
    }),
  });
  try {
    const sent = new Uint8Array(700 * 1024).map((_, i) => (i * 7919) % 251);
    await Deno.writeFile(`${dir}/up.bin`, sent);
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        ca.certFile,
        "--resolve",
        `big.test:${running.port}:127.0.0.1`,
        "--data-binary",
        `@${dir}/up.bin`,
        "-o",
        `${dir}/down.bin`,
        `https://big.test:${running.port}/echo`,
      ],
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const got = await Deno.readFile(`${dir}/down.bin`);
    assertEquals(got.length, sent.length);
    assert(got.every((b, i) => b === sent[sent.length - 1 - i]), "the body came back altered");
  } finally {
    await running.close();
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
