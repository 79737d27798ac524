import { providerContract } from "./_contract.ts";
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
    name: "nats: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => nats.stop(),
  });
}
