/** The attestation and secret routes on a real serve with box's module and a real box. */
import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { boxModule } from "../../routes.ts";
import { openBoxRuntime } from "../../runtime.ts";
import { addBusybox } from "../../_test_support.ts";

const TOKEN = "box-tee-test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

Deno.test("attestation route: no TEE here, simulated, bad input; secrets refused without a TEE", async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3str" });
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({ security: { tokens: [{ token: TOKEN, scopes: ["box:exec"] }] } }),
  );
  const seed = await openStore({ sqlitePath: `${home}/a3s.db` });
  const runtime = await openBoxRuntime({ store: seed, home });
  await addBusybox(runtime.images);
  runtime.close();
  await seed.close();
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 } }),
    modules: [boxModule({ events: false })],
    store: await openStore({ sqlitePath: `${home}/a3s.db` }),
    logger: createLogger("silent"),
  });
  const url = server.url;
  try {
    // The routes' schemas make it into the OpenAPI document.
    const openapi = await (await fetch(`${url}/openapi.json`)).json();
    assert(openapi.paths["/box/v1/attestation"]?.get, "attestation route in /openapi.json");
    assert(openapi.paths["/box/v1/boxes/{id}/secrets"]?.post, "secrets route in /openapi.json");
    assert(openapi.components.schemas.BoxAttestation);

    const anonymous = await fetch(`${url}/box/v1/attestation`);
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();

    const none = await fetch(`${url}/box/v1/attestation`, { headers: AUTH });
    assertEquals(none.status, 200);
    const noneBody = await none.json();
    assertEquals([noneBody.tee, noneBody.verified, noneBody.simulated], ["none", false, false]);
    assert(noneBody.message.startsWith("no TEE here"), noneBody.message);

    const simulated = await fetch(`${url}/box/v1/attestation?simulate=true&nonce=0a0b`, {
      headers: AUTH,
    });
    const body = await simulated.json();
    assertEquals([body.tee, body.simulated, body.verified], ["simulated", true, false]);
    assert(body.message.startsWith("SIMULATED"));
    assert(body.reportData.startsWith("0a0b00"));
    assert(JSON.parse(body.evidence).format === "a3s-evidence/1");

    const bad = await fetch(`${url}/box/v1/attestation?nonce=xyz`, { headers: AUTH });
    assertEquals(bad.status, 400);
    assert(JSON.stringify(await bad.json()).includes("nonce"));

    const created = await fetch(`${url}/box/v1/boxes`, {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ image: "busybox", command: ["sleep", "60"], driver: "namespace" }),
    });
    assertEquals(created.status, 201);
    const box = (await created.json()).id;
    const refused = await fetch(`${url}/box/v1/boxes/${box}/secrets`, {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ name: "db", value: "hunter2" }),
    });
    assertEquals(refused.status, 403);
    assert(JSON.stringify(await refused.json()).includes("no TEE here"));
    const badName = await fetch(`${url}/box/v1/boxes/${box}/secrets`, {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ name: "../x", value: "v" }),
    });
    assertEquals(badName.status, 400);
    assert(JSON.stringify(await badName.json()).includes("name"));
    const unknown = await fetch(`${url}/box/v1/boxes/nope/secrets`, {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ name: "db", value: "v" }),
    });
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
    const removed = await fetch(`${url}/box/v1/boxes/${box}?force=true`, {
      method: "DELETE",
      headers: AUTH,
    });
    assertEquals(removed.status, 200);
    await removed.body?.cancel();
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
