/**
 * A local OpenAI-compatible upstream for the proxy tests: it speaks the documented
 * chat-completions request and response formats (JSON and SSE streams) and records what it got.
 */

/** A running fake upstream. */
export interface FakeOpenAi {
  url: string;
  requests: { messages: { role: string; content: string }[]; stream: boolean }[];
  close(): Promise<void>;
}

/**
 * Starts the fake; its reply echoes the last user message and adds an email address. A message
 * that starts with "think:" also gets reasoning beside the content (`reasoning_content`, as vLLM
 * and DeepSeek send it), which names another address.
 */
export function startFakeOpenAi(name: string): FakeOpenAi {
  const requests: FakeOpenAi["requests"] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const body = await req.json();
    requests.push({ messages: body.messages, stream: body.stream === true });
    const last = body.messages.filter((m: { role: string }) => m.role === "user").at(-1);
    const reply = `${name} heard: ${last?.content}. Reach the owner at carol.owner@example.org.`;
    const base = { id: "chatcmpl-1", created: 1, model: body.model ?? "fake" };
    const reasoning = String(last?.content ?? "").startsWith("think:")
      ? "The note is from dave.secret@example.net; answer politely."
      : undefined;
    // "run: <command>" asks for a shell tool call with that command, as a model would emit it.
    const command = /^run: (.*)$/s.exec(String(last?.content ?? ""))?.[1];
    // "fn: <command>" asks for the same call through the older functions API (`function_call`).
    const legacy = /^fn: (.*)$/s.exec(String(last?.content ?? ""))?.[1];
    if (legacy !== undefined) {
      const call = { name: "shell", arguments: JSON.stringify({ cmd: legacy }) };
      if (body.stream !== true) {
        return Response.json({
          ...base,
          object: "chat.completion",
          choices: [{
            index: 0,
            message: { role: "assistant", content: null, function_call: call },
            finish_reason: "function_call",
          }],
        });
      }
      const deltas: Record<string, unknown>[] = [{ function_call: { name: "shell", arguments: "" } }];
      for (let i = 0; i < call.arguments.length; i += 5) {
        deltas.push({ function_call: { arguments: call.arguments.slice(i, i + 5) } });
      }
      const events = deltas.map((delta) => ({ index: 0, delta, finish_reason: null as string | null }));
      events.push({ index: 0, delta: {}, finish_reason: "function_call" });
      const text = events.map((choice) =>
        `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [choice] })}\n\n`
      ).join("") + "data: [DONE]\n\n";
      return new Response(text, { headers: { "content-type": "text/event-stream" } });
    }
    if (command !== undefined && body.stream !== true) {
      return Response.json({
        ...base,
        object: "chat.completion",
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: null,
            tool_calls: [{
              id: "call_1",
              type: "function",
              function: { name: "shell", arguments: JSON.stringify({ cmd: command }) },
            }],
          },
          finish_reason: "tool_calls",
        }],
      });
    }
    if (command !== undefined) {
      // Streamed tool calls arrive as deltas: the id and name first, the arguments in pieces.
      const args = JSON.stringify({ cmd: command });
      const deltas = [{ index: 0, id: "call_1", type: "function", function: { name: "shell", arguments: "" } }];
      for (let i = 0; i < args.length; i += 5) {
        deltas.push({ index: 0, function: { arguments: args.slice(i, i + 5) } } as typeof deltas[0]);
      }
      const encoder = new TextEncoder();
      const events = deltas.map((d) => ({
        ...base,
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: { tool_calls: [d] }, finish_reason: null }],
      }));
      events.push({
        ...base,
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: {} as { tool_calls: typeof deltas }, finish_reason: "tool_calls" as unknown as null }],
      });
      const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
      return new Response(encoder.encode(text), { headers: { "content-type": "text/event-stream" } });
    }
    // n > 1 asks for several choices; the second and later name another address each.
    const n = typeof body.n === "number" && body.n > 1 ? body.n : 1;
    const replyOf = (i: number) => i === 0 ? reply : `choice ${i}: mail erin${i}@example.com now`;
    if (n > 1 && body.stream !== true) {
      return Response.json({
        ...base,
        object: "chat.completion",
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: "assistant", content: replyOf(index) },
          finish_reason: "stop",
        })),
      });
    }
    if (n > 1) {
      // Interleaved as OpenAI streams them: a chunk a choice, except that every third step
      // puts all choices in one chunk (some servers batch them).
      const texts = Array.from({ length: n }, (_, i) => replyOf(i));
      const steps = Math.max(...texts.map((t) => Math.ceil(t.length / 3)));
      const encoder = new TextEncoder();
      let sse = "";
      const send = (choices: unknown[]) => {
        sse += `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices })}\n\n`;
      };
      for (let step = 0; step < steps; step++) {
        const choices = texts.map((t, index) => ({
          index,
          delta: { content: t.slice(step * 3, step * 3 + 3) },
          finish_reason: null,
        })).filter((c) => c.delta.content);
        if (step % 3 === 2) send(choices);
        else for (const c of choices) send([c]);
      }
      for (let index = 0; index < n; index++) send([{ index, delta: {}, finish_reason: "stop" }]);
      sse += "data: [DONE]\n\n";
      return new Response(encoder.encode(sse), { headers: { "content-type": "text/event-stream" } });
    }
    if (body.stream !== true) {
      return Response.json({
        ...base,
        object: "chat.completion",
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: reply,
            ...(reasoning ? { reasoning_content: reasoning } : {}),
          },
          // The reply's tokens, as `logprobs: true` asks for them (here a token a word).
          logprobs: body.logprobs === true
            ? { content: reply.split(" ").map((token) => ({ token, logprob: -0.1, top_logprobs: [] })) }
            : null,
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    }
    const encoder = new TextEncoder();
    const chunks: Record<string, string>[] = [{ role: "assistant", content: "" }];
    for (let i = 0; i < (reasoning?.length ?? 0); i += 4) {
      chunks.push({ reasoning_content: reasoning!.slice(i, i + 4) });
    }
    for (let i = 0; i < reply.length; i += 3) chunks.push({ role: "assistant", content: reply.slice(i, i + 3) });
    const stream = new ReadableStream({
      start(controller) {
        for (const delta of chunks) {
          const chunk = { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: null }] };
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`));
        }
        const end = { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(end)}\n\ndata: [DONE]\n\n`));
        controller.close();
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    close: () => server.shutdown(),
  };
}
