import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { KeptSessions } from "./kept_sessions.ts";

/** A session that only has an id and a busy flag. */
class FakeSession {
  busy = false;
  constructor(readonly id: string) {}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, for at most 5 s: timers run late on a busy machine. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; !done(); await sleep(5)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

/** Kept fake sessions that record what was opened (with which earlier id) and closed. */
function keptFakes(closeMs = 0, rememberedConversations?: number) {
  const opened: (string | undefined)[] = [];
  const closing: string[] = [];
  const closed: string[] = [];
  const open = new Set<FakeSession>();
  let n = 0;
  const kept = new KeptSessions<FakeSession>({
    close: async (session) => {
      closing.push(session.id);
      await sleep(closeMs);
      open.delete(session);
      closed.push(session.id);
    },
    isOpen: (session) => open.has(session),
    rememberedConversations,
  });
  const openFake = (id: string | undefined) => {
    opened.push(id);
    const session = new FakeSession(id ?? `ses_${++n}`);
    open.add(session);
    return Promise.resolve(session);
  };
  return { kept, opened, closing, closed, open, openFake };
}

Deno.test("kept sessions: one closes once idle, and the key's next turn reopens it on the same id", async () => {
  const { kept, opened, closed, openFake } = keptFakes();
  try {
    const first = await kept.hold("chat", 30, openFake);
    first.release();
    const again = await kept.hold("chat", 30, openFake);
    assertEquals(again.session, first.session, "a turn within the idle time reuses the session");
    again.release();
    again.release(); // A second release does nothing.
    await until(() => closed.length > 0, "the session closes");
    assertEquals(closed, ["ses_1"]);
    assertEquals(kept.get("chat"), undefined);
    const reopened = await kept.hold("chat", 30, openFake);
    assertEquals(opened, [undefined, "ses_1"]);
    assertEquals(reopened.session.id, "ses_1");
    reopened.release();
  } finally {
    await kept.close();
  }
});

Deno.test("kept sessions: never closed while a turn holds it, nor while it runs a turn of its own", async () => {
  const { kept, closed, openFake } = keptFakes();
  try {
    const held = await kept.hold("chat", 20, openFake);
    // A second turn held at once gets the same session.
    const other = await kept.hold("chat", 20, openFake);
    assertEquals(other.session, held.session);
    other.release();
    await sleep(80);
    assertEquals(closed, [], "closed under a turn");
    held.release();
    // A turn run on the session by other means (the HTTP API) keeps it open too.
    held.session.busy = true;
    await sleep(80);
    assertEquals(closed, [], "closed while busy");
    held.session.busy = false;
    await until(() => closed.length > 0, "the session closes");
    assertEquals(closed, ["ses_1"]);
  } finally {
    await kept.close();
  }
});

Deno.test("kept sessions: a turn that comes during the close waits for it, then reopens", async () => {
  const { kept, opened, closing, closed, open, openFake } = keptFakes(60);
  try {
    (await kept.hold("chat", 10, openFake)).release();
    await until(() => closing.length > 0, "the close starts");
    assertEquals(closed, []);
    const next = await kept.hold("chat", 10, openFake);
    assertEquals(closed, ["ses_1"], "reopened before the close had finished");
    assertEquals(opened, [undefined, "ses_1"]);
    assert(open.has(next.session));
    next.release();
  } finally {
    await kept.close();
  }
});

Deno.test("kept sessions: idle time 0 keeps them; one closed elsewhere is reopened, not closed again", async () => {
  const { kept, opened, closed, open, openFake } = keptFakes();
  try {
    const a = await kept.hold("a", 0, openFake);
    a.release();
    const b = await kept.hold("b", 20, openFake);
    b.release();
    open.delete(b.session); // Closed by an HTTP DELETE, say.
    await sleep(60);
    assertEquals(closed, []);
    assertEquals(kept.get("a"), a.session);
    const again = await kept.hold("b", 20, openFake);
    assertEquals([again.session.id, opened], ["ses_2", [undefined, undefined, "ses_2"]]);
    again.release();
    const failing = kept.hold("c", 20, () => Promise.reject(new Error("no agent")));
    await assertRejects(() => failing, Error, "no agent");
  } finally {
    await kept.close();
  }
  await assertRejects(() => kept.hold("a", 0, openFake), Error, "closed");
});

Deno.test("kept sessions: closed conversations' ids are remembered up to a bound, the oldest forgotten first", async () => {
  const { kept, opened, closed, openFake } = keptFakes(0, 2);
  try {
    for (const key of ["a", "b", "c"]) (await kept.hold(key, 10, openFake)).release();
    await until(() => closed.length === 3, "all three close");
    // "a" closed first and was forgotten: its next turn starts a new conversation.
    for (const key of ["a", "c"]) (await kept.hold(key, 0, openFake)).release();
    assertEquals(opened.slice(3), [undefined, closed[2]]);
  } finally {
    await kept.close();
  }
});
