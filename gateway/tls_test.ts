import { assertEquals } from "@a3s/common/testing";
import { config, startBackend } from "./_test_support.ts";
import { startGateway } from "./server.ts";

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** A test CA and a certificate for 127.0.0.1 it signed, made by openssl. */
async function testCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
    "-days",
    "1",
    "-subj",
    "/CN=a3s test CA",
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/leaf.csr`,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    `${dir}/cert.pem`,
    "-days",
    "1",
    "-extfile",
    `${dir}/ext.cnf`,
  ]);
  return {
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

Deno.test("HTTPS from certificate files, HTTP/2 negotiated, X-Forwarded-Proto https", async () => {
  const dir = await Deno.makeTempDir();
  const { ca, ...tls } = await testCertificates(dir);
  const echo = startBackend("echo");
  const running = await startGateway({
    port: 0,
    tls,
    config: config({
      services: { echo: { backends: [{ url: echo.url }] } },
      routers: { r: { rule: {}, service: "echo" } },
    }),
  });
  const client = Deno.createHttpClient({ caCerts: [ca], http2: true, http1: false });
  try {
    const res = await fetch(`https://127.0.0.1:${running.port}/secure`, { client });
    const body = await res.json();
    assertEquals(body.path, "/secure");
    assertEquals(body.headers["x-forwarded-proto"], "https");
  } finally {
    client.close();
    await running.close();
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
