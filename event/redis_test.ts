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
    name: "redis: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => redis.stop(),
  });
}
