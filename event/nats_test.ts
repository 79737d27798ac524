import { connect, nanos } from "nats";
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
    name: "nats: a consumer ensured again with another ack wait and bound is updated in place",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      const provider = await NatsProvider.connect({ url: nats.url, stream: name, prefix: name });
      const nc = await connect({ servers: nats.url.replace("nats://", "") });
      try {
        const spec = { name: "upd", pattern: "u.>", deliver: "new" as const };
        await provider.ensureConsumer({ ...spec, ackWaitMs: 1000, maxUnacked: 10 });
        // The same configuration again is accepted as it is.
        await provider.ensureConsumer({ ...spec, ackWaitMs: 1000, maxUnacked: 10 });
        await provider.ensureConsumer({ ...spec, ackWaitMs: 2000, maxUnacked: 20, deliver: "all" });
        const info = await (await nc.jetstreamManager()).consumers.info(name, "upd");
        assertEquals(info.config.ack_wait, nanos(2000));
        assertEquals(info.config.max_ack_pending, 20);
        // Where an existing consumer starts is not changed by a later start.
        assertEquals(info.config.deliver_policy, "new");
      } finally {
        await nc.close();
        await provider.destroy();
        await provider.close();
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
