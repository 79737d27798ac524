import { assert, assertEquals } from "@a3s/common/testing";
import { EventBus } from "./bus.ts";
import { providerContract } from "./_contract.ts";
import { startRedis } from "./_brokers.ts";
import { RedisProvider } from "./providers/redis.ts";

const redis = await startRedis();
if (redis) {
  providerContract("redis", async () => {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
    const provider = await RedisProvider.connect({ url: redis.url, prefix });
    const close = provider.close.bind(provider);
    provider.close = async () => {
      await provider.destroy();
      await close();
    };
    return provider;
  });
  Deno.test({
    name: "redis: a delivery says when Redis stored it, read from its stream id",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const provider = await RedisProvider.connect({
        url: redis.url,
        prefix: `t${crypto.randomUUID().slice(0, 8)}`,
      });
      const bus = new EventBus({ provider });
      try {
        const spec = {
          name: "stamped",
          pattern: "st.>",
          ackWaitMs: 30_000,
          deliver: "all" as const,
        };
        await provider.ensureConsumer(spec);
        const before = Date.now();
        const { seq } = await bus.publish("st.e", 1);
        const after = Date.now();
        const stop = new AbortController();
        for await (const [delivery] of provider.consumeBatches(spec, stop.signal, 8)) {
          assertEquals(delivery.seq, seq);
          const stored = delivery.storedAtMs!;
          assert(
            stored >= before - 1 && stored <= after,
            `stored at ${stored}, not in the publish`,
          );
          await delivery.ack();
          stop.abort();
        }
      } finally {
        await provider.destroy();
        await bus.close();
      }
    },
  });
  Deno.test({
    name: "redis: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => redis.stop(),
  });
}
