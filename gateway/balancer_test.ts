import { assert, assertEquals } from "@a3s/common/testing";
import { Backend } from "./backend.ts";
import { consistentHash, leastConnections, roundRobin, weighted } from "./balancer.ts";
import { base, startBackend, startTestGateway } from "./_test_support.ts";

const breaker = { failures: 2, openMs: 1000 };
const make = (n: number, weights: number[] = []) =>
  Array.from(
    { length: n },
    (_, i) => new Backend(`http://10.0.0.${i + 1}:80`, weights[i] ?? 1, false, breaker),
  );
const req = (headers: HeadersInit = {}) => new Request("http://gw/", { headers });
const none = new Set<Backend>();

Deno.test("round robin cycles; smooth weighted spreads 3:1 without bursts", () => {
  const backends = make(3);
  const rr = roundRobin(backends);
  assertEquals([0, 1, 2, 3].map(() => rr.pick(req(), none)), [...backends, backends[0]]);
  const [a, b] = make(2, [3, 1]);
  const w = weighted([a, b]);
  const picks = Array.from({ length: 8 }, () => w.pick(req(), none) === a ? "a" : "b").join("");
  assertEquals(picks, "aabaaaba");
  assertEquals([...picks].filter((p) => p === "a").length, 6);
  assert(!picks.includes("aaaa"), picks);
});

Deno.test("least connections prefers the idle backend", () => {
  const [a, b] = make(2);
  const lc = leastConnections([a, b]);
  a.begin();
  a.begin();
  assertEquals(lc.pick(req(), none), b);
  b.begin();
  b.begin();
  b.begin();
  assertEquals(lc.pick(req(), none), a);
});

Deno.test("consistent hashing is sticky by header and cookie, and moves only a leaver's keys", () => {
  const backends = make(4);
  const byHeader = consistentHash(backends, { header: "x-user" });
  const first = byHeader.pick(req({ "x-user": "alice" }), none);
  for (let i = 0; i < 5; i++) assertEquals(byHeader.pick(req({ "x-user": "alice" }), none), first);
  const byCookie = consistentHash(backends, { cookie: "sid" });
  const c = byCookie.pick(req({ cookie: "a=1; sid=xyz" }), none);
  assertEquals(byCookie.pick(req({ cookie: "sid=xyz" }), none), c);
  // Take one backend out: keys on other backends stay where they were.
  const before = new Map<string, Backend | undefined>();
  for (let i = 0; i < 200; i++) {
    before.set(`u${i}`, byHeader.pick(req({ "x-user": `u${i}` }), none));
  }
  const gone = backends[1];
  let moved = 0;
  for (const [key, was] of before) {
    const now = byHeader.pick(req({ "x-user": key }), new Set([gone]));
    if (was !== gone && now !== was) moved++;
  }
  assertEquals(moved, 0);
});

Deno.test("the circuit breaker opens after failures, half-opens for one trial, then closes", () => {
  let now = 0;
  const b = new Backend("http://10.0.0.1", 1, false, breaker, () => now);
  b.begin();
  b.end(false);
  assertEquals(b.breaker, "closed");
  b.begin();
  b.end(false);
  assertEquals(b.breaker, "open");
  assert(!b.available());
  now = 1000;
  assertEquals(b.breaker, "half-open");
  assert(b.available());
  b.begin();
  assert(!b.available(), "only one trial at a time");
  b.end(true);
  assertEquals(b.breaker, "closed");
  assert(b.available());
});

Deno.test("active health checks eject a failing backend and readmit it when it recovers", async () => {
  let sick = false;
  const a = startBackend(
    "a",
    (r) =>
      new URL(r.url).pathname === "/healthz"
        ? new Response(sick ? "no" : "ok", { status: sick ? 503 : 200 })
        : Response.json({ backend: "a" }),
  );
  const b = startBackend("b");
  const gw = await startTestGateway({
    services: {
      s: {
        backends: [{ url: a.url }, { url: b.url }],
        healthCheck: { path: "/healthz", intervalMs: 50, timeoutMs: 500 },
      },
    },
    routers: { s: { rule: {}, service: "s" } },
  });
  const who = async () => (await (await fetch(`${base(gw)}/`)).json()).backend as string;
  const waitFor = async (healthy: boolean) => {
    for (let i = 0; i < 100; i++) {
      if (gw.gateway.backends()[0].healthy === healthy) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`backend a never became healthy=${healthy}`);
  };
  try {
    sick = true;
    await waitFor(false);
    const seen = new Set(await Promise.all([1, 2, 3, 4].map(who)));
    assertEquals([...seen], ["b"]);
    // A reload keeps the verdict: the sick backend does not get traffic back meanwhile.
    gw.gateway.apply(gw.gateway.config);
    assertEquals(gw.gateway.backends()[0].healthy, false);
    sick = false;
    await waitFor(true);
    const back = new Set<string>();
    for (let i = 0; i < 4; i++) back.add(await who());
    assert(back.has("a"), "a is readmitted");
  } finally {
    await gw.close();
    await a.close();
    await b.close();
  }
});

Deno.test("passive ejection: a backend answering 5xx is taken out of rotation", async () => {
  const bad = startBackend("bad", () => new Response("boom", { status: 500 }));
  const good = startBackend("good");
  const gw = await startTestGateway({
    services: {
      s: {
        backends: [{ url: bad.url }, { url: good.url }],
        retries: 0,
        circuitBreaker: { failures: 2, openMs: 60_000 },
      },
    },
    routers: { s: { rule: {}, service: "s" } },
  });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${base(gw)}/`);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assertEquals(statuses.filter((s) => s === 500).length, 2);
    assertEquals(statuses.slice(4), [200, 200, 200, 200]);
    assertEquals(gw.gateway.backends()[0].breaker, "open");
  } finally {
    await gw.close();
    await bad.close();
    await good.close();
  }
});
