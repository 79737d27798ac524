import { connect, nanos } from "nats";
import { assert, assertEquals } from "@a3s/common/testing";
import { EventBus } from "./bus.ts";
import { providerContract, waitFor } from "./_contract.ts";
import { startNats } from "./_brokers.ts";
import { malformedMessageContract } from "./_malformed_contract.ts";
import { NatsProvider } from "./providers/nats.ts";
import type { ConsumerSpec, ProviderDelivery } from "./provider.ts";

const nats = await startNats();
if (nats) {
  /** Runs `fn` with a provider on a stream of its own and a bus over it; the stream is removed after. */
  const onFreshStream = async (
    fn: (provider: NatsProvider, bus: EventBus) => Promise<void>,
  ): Promise<void> => {
    const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const provider = await NatsProvider.connect({ url: nats.url, stream: name, prefix: name });
    const bus = new EventBus({ provider });
    try {
      await fn(provider, bus);
    } finally {
      await provider.destroy();
      await bus.close();
    }
  };
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
  malformedMessageContract("nats", async () => {
    const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const provider = await NatsProvider.connect({ url: nats.url, stream: name, prefix: name });
    const nc = await connect({ servers: nats.url.replace("nats://", "") });
    const js = nc.jetstream();
    return {
      provider,
      inject: async (subject, text) => {
        await js.publish(`${name}.${subject}`, new TextEncoder().encode(text));
      },
      close: async (bus) => {
        await nc.close();
        await provider.destroy();
        await bus.close();
      },
    };
  });
  Deno.test({
    name: "nats: pushed deliveries wait in order for a handler slot, never above the concurrency",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      onFreshStream(async (_provider, bus) => {
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
      }),
  });
  Deno.test({
    name: "nats: acks nobody awaits leave at once; a stopping consumer has them confirmed at once",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const name = `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      // A confirmation window longer than a stop should take: the stop asks for it itself.
      const provider = await NatsProvider.connect({
        url: nats.url,
        stream: name,
        prefix: name,
        backgroundConfirmMs: 4000,
      });
      const bus = new EventBus({ provider });
      const nc = await connect({ servers: nats.url.replace("nats://", "") });
      try {
        for (let i = 0; i < 30; i++) await bus.publish("bg.e", i);
        let handled = 0;
        const consumer = await bus.consume("bg", "bg.>", () => void handled++, {
          deliver: "all",
        });
        await waitFor(() => handled === 30, 8000, "30 handled");
        const jsm = await nc.jetstreamManager();
        // The acks reached the server without waiting for a PING.
        await waitFor(
          async () => (await jsm.consumers.info(name, "bg")).num_ack_pending === 0,
          5000,
          "acks at the server",
        );
        const started = performance.now();
        await consumer.stop();
        const stopMs = performance.now() - started;
        // Waiting for the timer, the stop would take about the whole window (seconds).
        assert(stopMs < 1500, `the stop took ${stopMs.toFixed(0)} ms: it waited for the timer`);
        const info = await jsm.consumers.info(name, "bg");
        assertEquals(info.ack_floor.stream_seq, 30);
      } finally {
        await nc.close();
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
  /** Publishes `events` (subject, key) on `bus`, 64 at a time. */
  const publishAll = async (bus: EventBus, events: [string, string | undefined][]) => {
    for (let i = 0; i < events.length; i += 64) {
      await Promise.all(
        events.slice(i, i + 64).map(([subject, key], j) => bus.publish(subject, i + j, { key })),
      );
    }
  };
  /** Runs the provider's consumer until `settle` has seen `count` deliveries, then stops. */
  const deliverAndStop = async (
    provider: NatsProvider,
    spec: ConsumerSpec,
    count: number,
    settle: (delivery: ProviderDelivery) => void,
  ) => {
    const stop = new AbortController();
    let seen = 0;
    const done = Promise.withResolvers<void>();
    const loop = provider.consumeEach(spec, stop.signal, 256, (delivery) => {
      settle(delivery);
      if (++seen === count) done.resolve();
    });
    await done.promise;
    stop.abort();
    await loop;
  };
  Deno.test({
    name:
      "nats: a restarted consumer waits on in-flight keyed events however far past its ack floor",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      onFreshStream(async (provider, bus) => {
        // A keyed event left unacknowledged holds the floor; 6,000 acknowledged events later
        // (the old scan stopped after 5,000), a second keyed one was in flight when "it died".
        const filler = Array.from(
          { length: 6000 },
          (): [string, undefined] => ["far.x", undefined],
        );
        await publishAll(bus, [["far.a", "A"], ...filler, ["far.b", "B"], ["far.c", "C"]]);
        const spec = { name: "far", pattern: "far.>", ackWaitMs: 60_000, deliver: "all" as const };
        await provider.ensureConsumer(spec);
        await deliverAndStop(provider, spec, 6003, (delivery) => {
          const key = delivery.event.partitionkey;
          if (key !== "A" && key !== "B") void delivery.ack();
        });
        await provider.ensureConsumer(spec);
        const awaited = await provider.awaitedAtStart(spec);
        // C was acknowledged, but JetStream does not say which deliveries past the floor were:
        // it is waited on too, until one and a half ack waits.
        assertEquals(awaited.map((a) => [a.key, a.seq]).sort(), [
          ["A", "1"],
          ["B", "6002"],
          ["C", "6003"],
        ]);
      }),
  });
  Deno.test({
    name: "nats: a new consumer waits on nothing published before it; after a crash, on its own",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      onFreshStream(async (provider, bus) => {
        await publishAll(bus, [["new.a", "A"], ["new.b", "B"], ["new.c", undefined]]);
        const spec = {
          name: "fresh",
          pattern: "new.>",
          ackWaitMs: 60_000,
          deliver: "new" as const,
        };
        await provider.ensureConsumer(spec);
        // Its last delivery is the stream's end and its floor 0, yet nothing is in flight.
        assertEquals(await provider.awaitedAtStart(spec), []);
        await publishAll(bus, [["new.a", "A"], ["new.d", "D"]]);
        // Both delivered, neither acknowledged: the process "died" before its first ack.
        await deliverAndStop(provider, spec, 2, () => {});
        await provider.ensureConsumer(spec);
        const awaited = await provider.awaitedAtStart(spec);
        assertEquals(awaited.map((a) => [a.key, a.seq]).sort(), [["A", "4"], ["D", "5"]]);
      }),
  });
  Deno.test({
    name: "nats: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => nats.stop(),
  });
}
