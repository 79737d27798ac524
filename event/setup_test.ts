import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import { EventConfigSchema } from "./config.ts";
import { KeyRing } from "./crypto.ts";
import { EventBrokerError } from "./errors.ts";
import { openEventBus } from "./setup.ts";

Deno.test("setup: A3S_EVENT_URL picks the provider; keys come from a key file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "event_setup_" });
  try {
    const keyFile = `${dir}/keys.json`;
    await Deno.writeTextFile(
      keyFile,
      JSON.stringify({
        keys: [{ id: "f1", subjects: "vault.>", secret: KeyRing.generateSecret() }],
      }),
    );
    const bus = await openEventBus(EventConfigSchema.parse({ keyFile }), {
      env: { A3S_EVENT_URL: "memory" },
    });
    try {
      assertEquals(bus.provider.kind, "memory");
      const sealed = await bus.prepare("vault.a", { secret: 1 });
      assertEquals(sealed.a3skid, "f1");
      assertEquals(sealed.data, undefined);
    } finally {
      await bus.close();
    }
    await Deno.writeTextFile(keyFile, "{not json");
    const error = await assertRejects(
      () => openEventBus(EventConfigSchema.parse({ keyFile, url: "memory" }), {}),
      ValidationError,
    );
    assertEquals(error.field, "keyFile");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup: an unreachable broker fails at start with one line", async () => {
  for (const url of ["nats://127.0.0.1:1", "redis://127.0.0.1:1"]) {
    const error = await assertRejects(
      () => openEventBus(EventConfigSchema.parse({ url }), { env: {} }),
      EventBrokerError,
    );
    assert(!error.message.includes("\n"), error.message);
    assert(error.message.startsWith("cannot reach"), error.message);
  }
  const bad = EventConfigSchema.safeParse({ url: "kafka://x" });
  assert(!bad.success);
  assertEquals(bad.error.issues[0].path, ["url"]);
});
