import { type Context, Hono } from "hono";
import { assertEquals } from "../_assert.ts";
import { ANONYMOUS_CALLER, bindCaller, callerOf, setCaller } from "./caller.ts";

Deno.test("caller: a bare request is anonymous until one is recorded", () => {
  const request = new Request("http://127.0.0.1/");
  assertEquals(callerOf(request), ANONYMOUS_CALLER);
  setCaller(request, "token:t1");
  assertEquals(callerOf(request), "token:t1");
  assertEquals(callerOf(new Request(request)), ANONYMOUS_CALLER, "a copy is another request");
});

Deno.test("caller: bindCaller follows every request a later middleware puts in place", async () => {
  const app = new Hono();
  app.use("/bound/*", async (c, next) => {
    bindCaller(c, "token:t1");
    await next();
  });
  // Two swaps, like bodyLimit's for a chunked body and power's relabelling.
  app.use("*", async (c, next) => {
    c.req.raw = new Request(c.req.raw, { body: await c.req.raw.arrayBuffer() });
    c.req.raw = new Request(c.req.raw, { headers: { "content-type": "application/json" } });
    await next();
  });
  const seen = (c: Context) =>
    c.json({ raw: callerOf(c.req.raw), context: callerOf(c), body: c.req.raw.bodyUsed });
  app.post("/bound/x", async (c) => {
    const answer = seen(c);
    assertEquals(await c.req.json(), { a: 1 }, "the swapped request still reads");
    return answer;
  });
  app.post("/unbound/x", (c) => seen(c));
  const call = (path: string) =>
    app.fetch(new Request(`http://127.0.0.1${path}`, { method: "POST", body: '{"a":1}' }));
  assertEquals(await (await call("/bound/x")).json(), {
    raw: "token:t1",
    context: "token:t1",
    body: false,
  });
  assertEquals(await (await call("/unbound/x")).json(), {
    raw: ANONYMOUS_CALLER,
    context: ANONYMOUS_CALLER,
    body: false,
  });
});
