/**
 * What every broker-backed provider must do with a stored message that is no event (written by
 * another client of a shared NATS or Redis, or a damaged row): a durable consumer dead-letters
 * it with what it held and goes on, a subscription skips it and goes on, both audited. Before,
 * one such message stopped a NATS consumer and subscription for good, silently.
 */
import { assertEquals } from "@a3s/common/testing";
import { type AuditRecord, EventBus } from "./bus.ts";
import { waitFor } from "./_contract.ts";
import type { EventProvider } from "./provider.ts";

/** A provider, a way to store raw text on a subject past it, and its teardown. */
export interface RawStream {
  provider: EventProvider;
  /** Appends `text` on `subject` as the broker stores events, without any check. */
  inject(subject: string, text: string): Promise<void>;
  /** Closes `bus` (and with it the provider) and removes what the stream left behind. */
  close(bus: EventBus): Promise<void>;
}

const NOT_JSON = "{not json";
const NO_SUBJECT = '{"specversion":"1.0","id":"x1","source":"s","type":"t","time":"now"}';

/** Registers the test for the provider `name` that `open` starts on a stream of its own. */
export function malformedMessageContract(name: string, open: () => Promise<RawStream>): void {
  Deno.test({
    name:
      `${name}: a stored message that is no event is dead-lettered or skipped, audited, and the events after it flow`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const raw = await open();
      const audits: AuditRecord[] = [];
      const bus = new EventBus({ provider: raw.provider, onAudit: (r) => void audits.push(r) });
      try {
        const live: unknown[] = [];
        const subscription = await bus.subscribe("mal.>", (m) => void live.push(m.data));
        const dead: Record<string, unknown>[] = [];
        const dlq = await bus.subscribe(
          "dlq.mal",
          (m) => void dead.push(m.data as Record<string, unknown>),
        );
        await bus.publish("mal.e", 1);
        await raw.inject("mal.e", NOT_JSON);
        await raw.inject("mal.e", NO_SUBJECT);
        await bus.publish("mal.e", 2);
        const handled: unknown[] = [];
        const consumer = await bus.consume("mal", "mal.>", (m) => void handled.push(m.data), {
          deliver: "all",
        });
        await waitFor(() => handled.length === 2 && dead.length === 2, 8000, "2 handled, 2 dead");
        await waitFor(() => live.length === 2, 8000, "2 seen live");
        await consumer.stop();
        await subscription.close();
        await dlq.close();
        assertEquals(handled, [1, 2]);
        assertEquals(live, [1, 2]);
        assertEquals(dead.map((d) => d.reason), ["event_malformed", "event_malformed"]);
        const held = dead.map((d) => (d.event as { data: { text: string } }).data.text);
        assertEquals(held, [NOT_JSON, NO_SUBJECT]);
        assertEquals(
          (dead[1].error as string).endsWith("subject: not a non-empty string"),
          true,
          String(dead[1].error),
        );
        // Each is audited once for the subscription and once for the consumer.
        assertEquals(audits.filter((a) => a.reason === "malformed").length, 4);
      } finally {
        await raw.close(bus);
      }
    },
  });
}
