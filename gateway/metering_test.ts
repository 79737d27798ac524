import { assert, assertEquals } from "@a3s/common/testing";
import { countExchange, parseUsage, TokenMeter } from "./metering.ts";
import { base, startBackend, startTestGateway } from "./_test_support.ts";
import { hashSecret } from "./hash.ts";

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

Deno.test("usage is read from OpenAI JSON, OpenAI SSE and Ollama NDJSON", () => {
  const json = parseUsage(
    "application/json",
    '{"model":"gpt-x","usage":{"prompt_tokens":7,"completion_tokens":3}}',
  );
  assertEquals([json.model, json.prompt, json.completion], ["gpt-x", 7, 3]);
  const sse = parseUsage(
    "text/event-stream",
    'data: {"model":"m","choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"content":"lo"}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\ndata: [DONE]\n\n',
  );
  assertEquals([sse.model, sse.prompt, sse.completion, sse.text], ["m", 4, 2, "Hello"]);
  const nd = parseUsage(
    "application/x-ndjson",
    '{"model":"llama","message":{"content":"a"}}\n{"model":"llama","done":true,"prompt_eval_count":9,"eval_count":5}\n',
  );
  assertEquals([nd.prompt, nd.completion], [9, 5]);
  const estimated = countExchange(
    '{"model":"m","messages":[{"role":"user","content":"one two three"}]}',
    "text/event-stream",
    'data: {"choices":[{"delta":{"content":"four five"}}]}\n\n',
    words,
  );
  assertEquals(estimated, { model: "m", prompt: 3, completion: 2, estimated: true });
});

Deno.test("quotas: a sliding minute and a UTC day", () => {
  let now = Date.parse("2026-01-01T12:00:00Z");
  const meter = new TokenMeter(undefined, () => now);
  meter.record("k", { model: "m", prompt: 60, completion: 40, estimated: false });
  assertEquals(meter.retryAfter("k", { perMinute: 200 }), 0);
  assertEquals(meter.retryAfter("k", { perMinute: 100 }), 60);
  now += 30_000;
  assertEquals(meter.retryAfter("k", { perMinute: 100 }), 30);
  now += 30_000;
  assertEquals(meter.retryAfter("k", { perMinute: 100 }), 0);
  assertEquals(meter.retryAfter("k", { perDay: 100 }), 11 * 3600 + 59 * 60);
  assertEquals(meter.usage(), [{ key: "k", model: "m", prompt: 60, completion: 40, requests: 1 }]);
});

Deno.test("metered routes count tokens per key and model with the wasm tokenizer, and enforce quotas", async () => {
  const llm = startBackend("llm", async (request) => {
    const body = await request.json();
    if (body.stream) {
      // A stream without usage fields: the gateway counts with the tokenizer.
      const chunks = ["Hello", " world"].map((t) =>
        `data: ${JSON.stringify({ model: body.model, choices: [{ delta: { content: t } }] })}\n\n`
      );
      return new Response(chunks.join("") + "data: [DONE]\n\n", {
        headers: { "content-type": "text/event-stream" },
      });
    }
    return Response.json({
      model: body.model,
      choices: [{ message: { content: "ok" } }],
      usage: { prompt_tokens: 30, completion_tokens: 20 },
    });
  });
  const gw = await startTestGateway({
    services: { llm: { backends: [{ url: llm.url }] } },
    middlewares: {
      keys: { apiKeys: { keys: { team: await hashSecret("sk-team") } } },
      meter: { tokenMeter: { perMinute: 100 } },
    },
    routers: {
      llm: { rule: { pathPrefix: ["/v1"] }, service: "llm", middlewares: ["keys", "meter"] },
    },
  });
  const chat = async (stream: boolean) => {
    const res = await fetch(`${base(gw)}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-team", "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-test",
        stream,
        messages: [{ role: "user", content: "Say hello to the world" }],
      }),
    });
    return { status: res.status, retry: res.headers.get("retry-after"), text: await res.text() };
  };
  try {
    const streamed = await chat(true);
    assert(streamed.text.includes("Hello"), "the stream reaches the client unchanged");
    // Counting finishes after the last byte is sent (the tokenizer loads on first use).
    for (let i = 0; i < 250 && !gw.gateway.usage().length; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const [row] = gw.gateway.usage();
    assertEquals([row.key, row.model], ["team", "gpt-test"]);
    assertEquals(row.completion, 2); // "Hello", " world" in cl100k
    assertEquals(row.prompt, 5); // "Say hello to the world"
    assertEquals((await chat(false)).status, 200);
    assertEquals((await chat(false)).status, 200);
    await new Promise((r) => setTimeout(r, 50));
    const over = await chat(false);
    assertEquals(over.status, 429);
    assert(Number(over.retry) >= 1);
    assertEquals(gw.gateway.usage()[0].prompt, 5 + 60);
  } finally {
    await gw.close();
    await llm.close();
  }
});
