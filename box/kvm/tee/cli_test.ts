/** `a3s box attest|seal|unseal|inject-secret` through the real CLI entry, on a real data dir. */
import { assert, assertEquals } from "@a3s/common/testing";
import { main } from "../../cli.ts";

async function capture(args: string[], home: string) {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...values: unknown[]) => out.push(values.join(" "));
  console.error = (...values: unknown[]) => err.push(values.join(" "));
  try {
    const [command, ...rest] = args;
    const code = await main([command, "--home", home, ...rest]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("box attest: no TEE here exits 1; simulated says so; bad input exits 2", async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3stee" });
  try {
    const none = await capture(["attest"], home);
    assertEquals(none.code, 1);
    assert(none.out.startsWith("no TEE here"), none.out);
    const simulated = await capture(["attest", "--simulate", "--nonce", "0102", "--json"], home);
    assertEquals(simulated.code, 0);
    const json = JSON.parse(simulated.out);
    assertEquals([json.tee, json.simulated, json.verified], ["simulated", true, false]);
    assert(json.message.startsWith("SIMULATED"));
    assert(json.reportData.startsWith("0102000000"));
    const table = await capture(["attest", "--simulate"], home);
    assert(table.out.startsWith("SIMULATED"), table.out);
    const bad = await capture(["attest", "--nonce", "xyz"], home);
    assertEquals([bad.code, bad.err], [2, "error: invalid --nonce: expected hex bytes"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("box seal/unseal: round trip, refused under another measurement", async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3stee" });
  try {
    const key = `${home}/root.key`;
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(32)));
    await Deno.writeTextFile(`${home}/plain`, "the model weights' key");
    const m = "ab".repeat(48);
    const sealed = await capture(
      ["seal", "--measurement", m, "--key-file", key, "-i", `${home}/plain`, "-o", `${home}/s`],
      home,
    );
    assertEquals(sealed.code, 0, sealed.err);
    const opened = await capture(
      ["unseal", "--measurement", m, "--key-file", key, "-i", `${home}/s`, "-o", `${home}/o`],
      home,
    );
    assertEquals(opened.code, 0, opened.err);
    assertEquals(await Deno.readTextFile(`${home}/o`), "the model weights' key");
    const other = await capture(
      ["unseal", "--measurement", "cd".repeat(48), "--key-file", key, "-i", `${home}/s`],
      home,
    );
    assertEquals(other.code, 1);
    assert(other.err.includes("refused"), other.err);
    const missing = await capture(["seal", "--key-file", key, "-i", `${home}/plain`], home);
    assertEquals(
      [missing.code, missing.err],
      [2, "error: --measurement HEX is required (no TEE here to take it from)"],
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("box inject-secret: refused on a host without a TEE; usage errors exit 2", async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3stee" });
  try {
    assertEquals((await capture(["import-busybox"], home)).code, 0);
    const run = await capture(
      ["run", "-d", "--driver", "namespace", "busybox", "sleep", "60"],
      home,
    );
    assertEquals(run.code, 0, run.err);
    const box = run.out.trim();
    await Deno.writeTextFile(`${home}/secret`, "hunter2");
    const refused = await capture(
      ["inject-secret", "--from-file", `${home}/secret`, box, "db"],
      home,
    );
    assertEquals(refused.code, 1);
    assert(refused.err.includes("secret not delivered: no TEE here"), refused.err);
    const unknown = await capture(
      ["inject-secret", "--from-file", `${home}/secret`, "nope", "db"],
      home,
    );
    assertEquals(unknown.code, 2, unknown.err);
    const usage = await capture(["inject-secret", box], home);
    assertEquals(usage.code, 2);
    assertEquals((await capture(["rm", "-f", box], home)).code, 0);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("box attest --ratls-cert and box verify-ratls: issue, serve, verify (simulated here)", async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3stee" });
  const cert = `${home}/box.crt`;
  const key = `${home}/box.key`;
  let listener: Deno.TlsListener | undefined;
  try {
    const none = await capture(["attest", "--ratls-cert", cert, "--ratls-key", key], home);
    assertEquals(none.code, 1);
    assertEquals(await Deno.stat(cert).then(() => true, () => false), false);
    const half = await capture(["attest", "--simulate", "--ratls-cert", cert], home);
    assertEquals([half.code, half.err], [2, "error: --ratls-cert and --ratls-key go together"]);
    const issued = await capture(
      ["attest", "--simulate", "--ratls-cert", cert, "--ratls-key", key],
      home,
    );
    assertEquals(issued.code, 0, issued.err);
    assert(issued.err.includes("(SIMULATED)"), issued.err);
    assertEquals((await Deno.stat(key)).mode! & 0o777, 0o600);

    const server = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(cert),
      key: await Deno.readTextFile(key),
    });
    listener = server;
    (async () => {
      for await (const conn of server) {
        conn.handshake().catch(() => {}).finally(() => conn.read(new Uint8Array(1)))
          .catch(() => {}).finally(() => conn.close());
      }
    })();
    const target = `127.0.0.1:${server.addr.port}`;
    const refused = await capture(["verify-ratls", target], home);
    assertEquals(refused.code, 1);
    assert(refused.err.includes("SIMULATED"), refused.err);
    const allowed = await capture(["verify-ratls", "--allow-simulated", "--json", target], home);
    assertEquals(allowed.code, 0, allowed.err);
    const json = JSON.parse(allowed.out);
    assertEquals([json.tee, json.simulated, json.verified], ["simulated", true, false]);
    assertEquals(json.publicKeySha256.length, 64);
    const usage = await capture(["verify-ratls", "no-port"], home);
    assertEquals(usage.code, 2);
  } finally {
    listener?.close();
    await Deno.remove(home, { recursive: true });
  }
});
