import { assert, assertEquals } from "@a3s/common/testing";
import { main } from "./cli.ts";
import { hashSecret } from "./hash.ts";
import { startBackend } from "./_test_support.ts";
import { curlHttps, makeCa } from "./_test_pki.ts";
import { freePort } from "./_test_pebble.ts";

async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await fn(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("gateway check, routes and hash; bad input exits 2 with one line", async () => {
  const dir = await Deno.makeTempDir();
  const good = `${dir}/good.yaml`;
  const bad = `${dir}/bad.yaml`;
  await Deno.writeTextFile(
    good,
    `services:\n  s: { backends: [{ url: "http://127.0.0.1:9" }] }\nrouters:\n  low: { rule: {}, service: s }\n  api: { rule: { pathPrefix: ["/api"] }, service: s }\n`,
  );
  await Deno.writeTextFile(bad, `services:\n  s: { backends: [] }\n`);
  try {
    const ok = await capture(() => main(["check", good]));
    assertEquals(ok.code, 0);
    assert(ok.out.includes("ok (2 routers, 1 services)"));

    const routes = await capture(() => main(["routes", good, "--json"]));
    assertEquals(JSON.parse(routes.out).map((r: { name: string }) => r.name), ["api", "low"]);
    const table = await capture(() => main(["routes", good]));
    assert(table.out.startsWith("NAME"));

    const failed = await capture(() => main(["check", bad]));
    assertEquals(failed.code, 2);
    assertEquals(failed.err.split("\n").length, 1);
    assert(failed.err.includes("bad.yaml:2: services.s.backends"), failed.err);

    const hashed = await capture(() => main(["hash", "k-123"]));
    assertEquals(hashed.out, await hashSecret("k-123"));

    assertEquals((await capture(() => main(["nope"]))).code, 2);
    assertEquals((await capture(() => main(["run"]))).code, 2);
    assertEquals((await capture(() => main(["routes", good, "--format", "xml"]))).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway run --certs --https-port: HTTPS by SNI beside plain HTTP; TLS flags checked", async () => {
  const dir = await Deno.makeTempDir();
  const echo = startBackend("echo");
  const file = `${dir}/gw.yaml`;
  await Deno.writeTextFile(
    file,
    `services:\n  s: { backends: [{ url: "${echo.url}" }] }\nrouters:\n  all: { rule: {}, service: s }\n`,
  );
  await Deno.mkdir(`${dir}/certs`);
  const ca = await makeCa(dir, "cli");
  await ca.issue(`${dir}/certs/site`, ["site.test"]);
  const [port, httpsPort] = [freePort(), freePort()];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./testdata/run_cli.ts", import.meta.url).pathname,
      "run",
      "--config",
      file,
      "--certs",
      `${dir}/certs`,
      "--port",
      String(port),
      "--https-port",
      String(httpsPort),
      "--log-level",
      "silent",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let secure = await curlHttps("site.test", httpsPort, "/s", ca.certFile);
    for (let i = 0; !secure.ok && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      secure = await curlHttps("site.test", httpsPort, "/s", ca.certFile);
    }
    assert(secure.ok, secure.error);
    assertEquals(JSON.parse(secure.body).headers["x-forwarded-proto"], "https");
    const plain = await fetch(`http://127.0.0.1:${port}/p`);
    assertEquals((await plain.json()).headers["x-forwarded-proto"], "http");

    for (
      const args of [
        ["run", "--config", file, "--https-port", "1"],
        ["run", "--config", file, "--acme-domain", "not a name"],
        ["run", "--config", file, "--certs", dir, "--cert", file, "--key", file],
        ["run", "--kubernetes", "ftp://api.example"],
      ]
    ) {
      const result = await capture(() => main(args));
      assertEquals(result.code, 2, args.join(" "));
      assertEquals(result.err.split("\n").length, 1);
    }
  } finally {
    child.kill("SIGTERM");
    await child.stderr.cancel();
    await child.status;
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
