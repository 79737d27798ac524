/**
 * A consumer process for the crash test: handles `crash.>` on the provider `A3S_EVENT_URL`
 * names (a store needs a SQLite path or PostgreSQL URL) and appends `handled <n>` before and
 * `acked <n>` after each acknowledgement, so the test can tell what a `kill -9` interrupted.
 * With `A3S_CRASH_MODE=keyed` it consumes a keyed stream instead (`crashk.>`) and nacks some.
 */
import { openStore } from "@a3s/common";
import { EventBus } from "./bus.ts";
import { openProvider } from "./providers/open.ts";

const HANDLE_MS = 100;
const [url, log, database] = Deno.args;
const postgres = database?.startsWith("postgres");
const store = database
  ? await openStore(postgres ? { databaseUrl: database } : { sqlitePath: database })
  : undefined;
const provider = await openProvider({
  url,
  store,
  pollMs: 20,
  databaseUrl: postgres ? database : undefined,
});
const bus = new EventBus({ provider });
const file = await Deno.open(log, { append: true, create: true });
const encoder = new TextEncoder();
if (Deno.env.get("A3S_CRASH_MODE") === "keyed") {
  // A keyed stream: every seventh event is nacked once with a delay longer than two ack
  // waits, so a kill lands while keys wait on a nacked event and others are mid-handling.
  await bus.consume("crashk", "crashk.>", async (m) => {
    const { k, i } = m.data as { k: string; i: number };
    file.writeSync(encoder.encode(`handled ${k}:${i}\n`));
    await new Promise((r) => setTimeout(r, 40));
    if (i % 7 === 3 && m.deliveries === 1) {
      await m.nack(2500);
      file.writeSync(encoder.encode(`nacked ${k}:${i}\n`));
      return;
    }
    await m.ack();
    file.writeSync(encoder.encode(`acked ${k}:${i}\n`));
  }, { ackWaitMs: 1000, concurrency: 4 });
  file.writeSync(encoder.encode("ready\n"));
  await new Promise(() => {});
}
await bus.consume("crash", "crash.>", async (m) => {
  file.writeSync(encoder.encode(`handled ${m.data}\n`));
  // Slow enough that the whole batch takes well over a second, so the test's kill lands
  // mid-batch even when a loaded machine polls the log late.
  await new Promise((r) => setTimeout(r, HANDLE_MS));
  await m.ack();
  file.writeSync(encoder.encode(`acked ${m.data}\n`));
}, { ackWaitMs: 1000, concurrency: 4 });
file.writeSync(encoder.encode("ready\n"));
await new Promise(() => {});
