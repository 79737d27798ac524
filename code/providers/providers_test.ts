import { assertEquals, assertRejects } from "@a3s/common/testing";
import { scriptedAnthropicServer, scriptedOpenAiServer } from "../_testing/servers.ts";
import { collect, ProviderError } from "../llm/types.ts";
import { laneRetryRunner } from "../llm/retry.ts";
import { OpenAiProvider } from "./openai.ts";
import { AnthropicProvider } from "./anthropic.ts";

const TOOLS = [{
  name: "read",
  description: "Read a file",
  parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
}];

Deno.test("openai provider: streamed text, split tool-call arguments, usage, wire messages", async () => {
  const server = scriptedOpenAiServer((_body, n) =>
    n === 0
      ? {
        text: "Reading it now.",
        toolCalls: [{ name: "read", arguments: { path: "a.txt" } }, {
          name: "read",
          arguments: { path: "b.txt" },
        }],
      }
      : { text: "done" }
  );
  try {
    const llm = new OpenAiProvider({ baseUrl: server.url, apiKey: "k" });
    const first = await collect(
      llm.stream({ model: "m", messages: [{ role: "user", content: "hi" }], tools: TOOLS }),
    );
    assertEquals(first.text, "Reading it now.");
    assertEquals(first.toolCalls.map((c) => c.arguments), [{ path: "a.txt" }, { path: "b.txt" }]);
    assertEquals(first.stopReason, "tool_calls");
    assertEquals(first.usage, { inputTokens: 20, outputTokens: 5 });
    const second = await collect(llm.stream({
      model: "m",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "", toolCalls: first.toolCalls },
        { role: "tool", toolCallId: first.toolCalls[0].id, name: "read", content: "A" },
      ],
    }));
    assertEquals(second.text, "done");
    const wire = server.bodies[1].messages as Record<string, unknown>[];
    assertEquals(wire[1].content, null);
    assertEquals(
      (wire[1].tool_calls as { function: { arguments: string } }[])[0].function.arguments,
      '{"path":"a.txt"}',
    );
    assertEquals(wire[2], {
      role: "tool",
      content: "A",
      tool_call_id: first.toolCalls[0].id,
      name: "read",
    });
    assertEquals((server.bodies[0].tools as unknown[]).length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("openai provider: retries 503 through lane with backoff, not 400", async () => {
  let calls = 0;
  const server = scriptedOpenAiServer((body) => {
    calls++;
    if (body.model === "bad") {
      return Response.json({ error: { message: "model bad" } }, { status: 400 });
    }
    return calls < 3 ? new Response("busy", { status: 503 }) : { text: "ok" };
  });
  const { run, close } = laneRetryRunner();
  try {
    const llm = new OpenAiProvider({
      baseUrl: server.url,
      retry: run,
      maxAttempts: 4,
      retryDelayMs: 5,
    });
    assertEquals(
      (await collect(llm.stream({ model: "m", messages: [{ role: "user", content: "x" }] }))).text,
      "ok",
    );
    assertEquals(calls, 3);
    const error = await assertRejects(
      () => collect(llm.stream({ model: "bad", messages: [{ role: "user", content: "x" }] })),
      ProviderError,
      "model bad",
    );
    assertEquals(error.status, 400);
    assertEquals(calls, 4);
  } finally {
    await close();
    await server.close();
  }
});

Deno.test("anthropic provider: Messages SSE events with text and tool_use, tool_result wire shape", async () => {
  const server = scriptedAnthropicServer((_body, n) =>
    n === 0
      ? { text: "Let me look.", toolCalls: [{ name: "read", arguments: { path: "src/a.ts" } }] }
      : n === 1
      ? { text: "It is fine." }
      : { toolCalls: [{ name: "answer", arguments: { ok: true } }] }
  );
  try {
    const llm = new AnthropicProvider({ baseUrl: server.url, apiKey: "sk-ant-test" });
    const first = await collect(
      llm.stream({
        model: "claude",
        messages: [{ role: "system", content: "sys" }, { role: "user", content: "check" }],
        tools: TOOLS,
      }),
    );
    assertEquals(first.text, "Let me look.");
    assertEquals(first.toolCalls[0].name, "read");
    assertEquals(first.toolCalls[0].arguments, { path: "src/a.ts" });
    assertEquals(first.stopReason, "tool_use");
    assertEquals(first.usage, { inputTokens: 25, outputTokens: 15 });
    assertEquals(server.bodies[0].system, "sys");
    assertEquals(
      (server.bodies[0].tools as { input_schema: unknown }[])[0].input_schema,
      TOOLS[0].parameters,
    );
    await collect(llm.stream({
      model: "claude",
      messages: [
        { role: "user", content: "check" },
        { role: "assistant", content: "Let me look.", toolCalls: first.toolCalls },
        {
          role: "tool",
          toolCallId: first.toolCalls[0].id,
          name: "read",
          content: "code",
          isError: false,
        },
      ],
    }));
    assertEquals(server.bodies[1].messages, [
      { role: "user", content: [{ type: "text", text: "check" }] },
      {
        role: "assistant",
        content: [{ type: "text", text: "Let me look." }, {
          type: "tool_use",
          id: first.toolCalls[0].id,
          name: "read",
          input: { path: "src/a.ts" },
        }],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: first.toolCalls[0].id, content: "code" }],
      },
    ]);
    const structured = await collect(
      llm.stream({
        model: "claude",
        messages: [{ role: "user", content: "?" }],
        responseSchema: { name: "answer", schema: { type: "object" } },
      }),
    );
    assertEquals(JSON.parse(structured.text), { ok: true });
    assertEquals(server.bodies[2].tool_choice, { type: "tool", name: "answer" });
  } finally {
    await server.close();
  }
});

/** A server that streams `events` as SSE data to every request. */
function oddStreamServer(events: string[]): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(events.map((e) => `data: ${e}\n\n`).join(""), {
      headers: { "content-type": "text/event-stream" },
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("a streamed chunk of another shape is a provider error naming the field, not a crash or '[object Object]'", async () => {
  const cases: [string, string[], string][] = [
    ["openai", ["null"], "bad stream chunk: event: Invalid input: expected object, received null"],
    ["openai", ['{"choices":[{"delta":{"content":{"text":"hi"}}}]}'], "choices.0.delta.content"],
    ["openai", ['{"choices":[{"delta":{"tool_calls":[null]}}]}'], "choices.0.delta.tool_calls.0"],
    ["openai", ["{not json"], "bad stream chunk: not JSON: {not json"],
    ["anthropic", ["[]"], "bad event: event: Invalid input: expected object, received array"],
    ["anthropic", ['{"type":"content_block_start","index":0}'], "a block start without its block"],
    ["anthropic", ['{"type":"content_block_delta","index":0}'], "a delta without its delta"],
    [
      "anthropic",
      ['{"type":"message_delta","usage":{"output_tokens":"9"}}'],
      "usage.output_tokens",
    ],
  ];
  for (const [provider, events, expected] of cases) {
    const server = oddStreamServer(events);
    try {
      const llm = provider === "openai"
        ? new OpenAiProvider({ baseUrl: server.url, apiKey: "k" })
        : new AnthropicProvider({ baseUrl: server.url, apiKey: "k" });
      await assertRejects(
        () => collect(llm.stream({ model: "m", messages: [{ role: "user", content: "hi" }] })),
        ProviderError,
        expected,
      );
    } finally {
      await server.close();
    }
  }
});
