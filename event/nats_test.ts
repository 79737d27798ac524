import { assertEquals } from "@a3s/common/testing";
import { EventBus } from "./bus.ts";
import { providerContract, waitFor } from "./_contract.ts";
import { startNats } from "./_brokers.ts";
import { NatsProvider } from "./providers/nats.ts";

const nats = await startNats();
if (nats) {
  providerContract("nats", async () => {
    const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const provider = await NatsProvider.connect({ url: nats.url, stream: name, prefix: name });
    const close = provider.close.bind(provider);
    provider.close = async () => {
      await provider.destroy();
      await close();
    };
    return provider;
  });
  Deno.test({
    name: "nats: pushed deliveries wait in order for a handler slot, never above the concurrency",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      const provider = await NatsProvider.connect({ url: nats.url, stream: name, prefix: name });
      const bus = new EventBus({ provider });
      try {
        for (let i = 0; i < 20; i++) await bus.publish("slots.e", i);
        let running = 0;
        let most = 0;
        const started: number[] = [];
        const consumer = await bus.consume("slots", "slots.>", async (m) => {
          started.push(m.data as number);
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }, { concurrency: 2, deliver: "all" });
        await waitFor(() => started.length === 20 && running === 0, 8000, "20 handled");
        await consumer.stop();
        assertEquals(most, 2);
        assertEquals(started, Array.from({ length: 20 }, (_, i) => i));
      } finally {
        await provider.destroy();
        await bus.close();
      }
    },
  });
  Deno.test({
    name: "nats: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => nats.stop(),
  });
}
