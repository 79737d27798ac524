import { fileURLToPath } from "node:url";
import { createLogger, defineModule, loadConfig, openStore, startServer } from "@a3s/common";
import { assert, assertEquals } from "@a3s/common/testing";
import { type GreeterApi, greeterModule } from "./greeter_module.ts";

Deno.test("the README's example module serves, documents and shares its API", async () => {
  const home = await Deno.makeTempDir();
  // serve enforces the module's access rules: reading greetings takes a `greeter:read` token
  const token = "greeter-example-token-0123";
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      greeter: { greeting: "hi" },
      security: { tokens: [{ token, scopes: ["greeter:read"] }] },
    }),
  );
  let seen = "";
  const caller = defineModule({
    name: "caller",
    dependsOn: ["greeter"],
    start(ctx) {
      seen = (ctx.modules.greeter as GreeterApi).greet("caller");
      return {};
    },
  });
  const modules = [caller, greeterModule()];
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 }, modules }),
    modules,
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  try {
    assertEquals(seen, "hi, caller");
    const greet = (headers: HeadersInit) =>
      fetch(`${server.url}/greeter/v1/greet/ada`, { headers });
    assertEquals(await (await greet({ authorization: `Bearer ${token}` })).json(), {
      message: "hi, ada",
    });
    const anonymous = await greet({});
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assertEquals(ready.modules, { greeter: "ready", caller: "ready" });
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    assertEquals(doc.paths["/greeter/v1/greet/{name}"].get.tags, ["greeter"]);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("common/README.md shows the example module as it is", async () => {
  const readme = await Deno.readTextFile(fileURLToPath(new URL("../README.md", import.meta.url)));
  const source = await Deno.readTextFile(
    fileURLToPath(new URL("./greeter_module.ts", import.meta.url)),
  );
  const body = source.slice(source.indexOf("import "));
  assert(readme.includes(body), "README's example differs from examples/greeter_module.ts");
});
