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
    const completion = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      Response.json({ ...base, object: "chat.completion", choices, ...extra });
    // One SSE event a list of choices, each sent as a piece of its own, then [DONE].
    const events = (chunks: unknown[][]) => {
      const encoder = new TextEncoder();
      return new Response(
        new ReadableStream({
          start(controller) {
            for (const choices of chunks) {
              const chunk = { ...base, object: "chat.completion.chunk", choices };
              controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`));
            }
            controller.enqueue(encoder.encode("data: [DONE]\n\n"));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    };
    const delta = (
      d: unknown,
      finish: string | null = null,
    ) => [{ index: 0, delta: d, finish_reason: finish }];
    /** `text` in pieces of `size`. */
    const pieces = (text: string, size: number) =>
      Array.from(
        { length: Math.ceil(text.length / size) },
        (_, i) => text.slice(i * size, (i + 1) * size),
      );
    // A tool's result that says "run: ..." asks for the call too, as a list a tool returned.
    const final = body.messages.at(-1);
    const fromTool = final?.role === "tool" && /^run: /.test(String(final.content));
    const said = String((fromTool ? final : last)?.content ?? "");
    const reasoning = said.startsWith("think:")
      ? "The note is from dave.secret@example.net; answer politely."
      : undefined;
    // "run: <command>" asks for a shell tool call with that command, as a model would emit it;
    // "fn: <command>" the same call through the older functions API (`function_call`).
    const command = /^run: (.*)$/s.exec(said)?.[1];
    const legacy = /^fn: (.*)$/s.exec(said)?.[1];
    if (legacy !== undefined) {
      const call = { name: "shell", arguments: JSON.stringify({ cmd: legacy }) };
      if (body.stream !== true) {
        return completion([{
          index: 0,
          message: { role: "assistant", content: null, function_call: call },
          finish_reason: "function_call",
        }]);
      }
      return events([
        delta({ function_call: { name: "shell", arguments: "" } }),
        ...pieces(call.arguments, 5).map((arguments_) =>
          delta({ function_call: { arguments: arguments_ } })
        ),
        delta({}, "function_call"),
      ]);
    }
    if (command !== undefined) {
      const args = JSON.stringify({ cmd: command });
      if (body.stream !== true) {
        return completion([{
          index: 0,
          message: {
            role: "assistant",
            content: null,
            tool_calls: [{
              id: "call_1",
              type: "function",
              function: { name: "shell", arguments: args },
            }],
          },
          finish_reason: "tool_calls",
        }]);
      }
      // Streamed tool calls arrive as deltas: the id and name first, the arguments in pieces.
      return events([
        delta({
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "shell", arguments: "" },
          }],
        }),
        ...pieces(args, 5).map((p) =>
          delta({ tool_calls: [{ index: 0, function: { arguments: p } }] })
        ),
        delta({}, "tool_calls"),
      ]);
    }
    // n > 1 asks for several choices; the second and later name another address each.
    const n = typeof body.n === "number" && body.n > 1 ? body.n : 1;
    if (n > 1) {
      const texts = Array.from(
        { length: n },
        (_, i) => i === 0 ? reply : `choice ${i}: mail erin${i}@example.com now`,
      );
      if (body.stream !== true) {
        return completion(texts.map((content, index) => ({
          index,
          message: { role: "assistant", content },
          finish_reason: "stop",
        })));
      }
      // Interleaved as OpenAI streams them: a chunk a choice, except that every third step
      // puts all choices in one chunk (some servers batch them).
      const steps = Math.max(...texts.map((t) => Math.ceil(t.length / 3)));
      const chunks: unknown[][] = [];
      for (let step = 0; step < steps; step++) {
        const choices = texts.map((t, index) => ({
          index,
          delta: { content: t.slice(step * 3, step * 3 + 3) },
          finish_reason: null,
        })).filter((c) => c.delta.content);
        if (step % 3 === 2) chunks.push(choices);
        else for (const c of choices) chunks.push([c]);
      }
      for (let index = 0; index < n; index++) {
        chunks.push([{ index, delta: {}, finish_reason: "stop" }]);
      }
      return events(chunks);
    }
    if (body.stream !== true) {
      return completion([{
        index: 0,
        message: {
          role: "assistant",
          content: reply,
          ...(reasoning ? { reasoning_content: reasoning } : {}),
        },
        // The reply's tokens, as `logprobs: true` asks for them (here a token a word).
        logprobs: body.logprobs === true
          ? {
            content: reply.split(" ").map((token) => ({ token, logprob: -0.1, top_logprobs: [] })),
          }
          : null,
        finish_reason: "stop",
      }], { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    }
    return events([
      delta({ role: "assistant", content: "" }),
      ...pieces(reasoning ?? "", 4).map((p) => delta({ reasoning_content: p })),
      ...pieces(reply, 3).map((p) => delta({ role: "assistant", content: p })),
      delta({}, "stop"),
    ]);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    close: () => server.shutdown(),
  };
}
