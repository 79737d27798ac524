/**
 * Real HTTP servers on free ports that speak the providers' wire formats from a script: the
 * OpenAI chat-completions SSE stream and the Anthropic Messages SSE event stream.
 */
import type { ScriptedReply } from "../llm/scripted.ts";

/** A running scripted server. */
export interface ScriptedServer {
  url: string;
  /** Request bodies received, in order. */
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

type Responder = (body: Record<string, unknown>, n: number) => ScriptedReply | Response;

function sse(lines: string[]): Response {
  return new Response(lines.join(""), { headers: { "content-type": "text/event-stream" } });
}

function serve(handler: (req: Request) => Promise<Response>): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handler);
}

/** An OpenAI-compatible `/v1/chat/completions` that streams each scripted reply. */
export function scriptedOpenAiServer(respond: Responder): ScriptedServer {
  const bodies: Record<string, unknown>[] = [];
  const server = serve(async (req) => {
    if (new URL(req.url).pathname !== "/v1/chat/completions") {
      return new Response("no", { status: 404 });
    }
    const body = await req.json();
    bodies.push(body);
    const reply = respond(body, bodies.length - 1);
    if (reply instanceof Response) return reply;
    const id = `chatcmpl-${bodies.length}`;
    const chunk = (delta: unknown, finish: string | null = null, usage: unknown = undefined) =>
      `data: ${
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created: 1,
          model: body.model,
          choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }],
          ...(usage ? { usage } : {}),
        })
      }\n\n`;
    const out = [chunk({ role: "assistant", content: "" })];
    const text = reply.text ?? "";
    for (let i = 0; i < text.length; i += 7) out.push(chunk({ content: text.slice(i, i + 7) }));
    (reply.toolCalls ?? []).forEach((call, index) => {
      const args = JSON.stringify(call.arguments);
      const half = Math.ceil(args.length / 2);
      out.push(chunk({
        tool_calls: [{
          index,
          id: call.id ?? `call_${bodies.length}_${index}`,
          type: "function",
          function: { name: call.name, arguments: args.slice(0, half) },
        }],
      }));
      out.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
    });
    out.push(chunk({}, reply.toolCalls?.length ? "tool_calls" : "stop"));
    out.push(chunk(null, null, { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 }));
    out.push("data: [DONE]\n\n");
    return sse(out);
  });
  return { url: `http://127.0.0.1:${server.addr.port}/v1`, bodies, close: () => server.shutdown() };
}

/** A Messages API `/v1/messages` replaying the documented event sequence, tool use included. */
export function scriptedAnthropicServer(respond: Responder): ScriptedServer {
  const bodies: Record<string, unknown>[] = [];
  const server = serve(async (req) => {
    if (new URL(req.url).pathname !== "/v1/messages") return new Response("no", { status: 404 });
    const body = await req.json();
    bodies.push(body);
    const reply = respond(body, bodies.length - 1);
    if (reply instanceof Response) return reply;
    const ev = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const out = [
      ev("message_start", {
        message: {
          id: `msg_${bodies.length}`,
          type: "message",
          role: "assistant",
          content: [],
          model: body.model,
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 25, output_tokens: 1 },
        },
      }),
    ];
    let index = 0;
    if (reply.text) {
      out.push(ev("content_block_start", { index, content_block: { type: "text", text: "" } }));
      out.push(ev("ping", {}));
      for (let i = 0; i < reply.text.length; i += 5) {
        out.push(
          ev("content_block_delta", {
            index,
            delta: { type: "text_delta", text: reply.text.slice(i, i + 5) },
          }),
        );
      }
      out.push(ev("content_block_stop", { index }));
      index++;
    }
    for (const call of reply.toolCalls ?? []) {
      out.push(ev("content_block_start", {
        index,
        content_block: {
          type: "tool_use",
          id: call.id ?? `toolu_${bodies.length}_${index}`,
          name: call.name,
          input: {},
        },
      }));
      const args = JSON.stringify(call.arguments);
      for (let i = 0; i < args.length; i += 9) {
        out.push(
          ev("content_block_delta", {
            index,
            delta: { type: "input_json_delta", partial_json: args.slice(i, i + 9) },
          }),
        );
      }
      out.push(ev("content_block_stop", { index }));
      index++;
    }
    out.push(ev("message_delta", {
      delta: {
        stop_reason: reply.toolCalls?.length ? "tool_use" : "end_turn",
        stop_sequence: null,
      },
      usage: { output_tokens: 15 },
    }));
    out.push(ev("message_stop", {}));
    return sse(out);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, bodies, close: () => server.shutdown() };
}
