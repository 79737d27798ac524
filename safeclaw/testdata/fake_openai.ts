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
