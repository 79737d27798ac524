/**
 * WebChat: the built-in page's WebSocket. Each message goes through safeclaw (classify,
 * injection, ratchet), then through the hub's per-session lane to the streaming responder; the
 * reply streams back through the output sanitizer, delta by delta.
 */
import type { Guard } from "../guard.ts";
import { type ChannelHub, LOCAL_ONLY_REFUSAL } from "./hub.ts";
import { isLoopbackUrl } from "@a3s/common";
import { sessionKey } from "./types.ts";
import { SseReader } from "../sse.ts";
import { readChunk } from "../reply_schema.ts";

/** Streams a reply: the agent framework takes this place when it lands. */
export type StreamingResponder = (input: {
  session: string;
  text: string;
  localOnly: boolean;
}) => AsyncIterable<string>;

/** A streaming responder over an OpenAI-compatible chat API (power by default). */
export function chatStreamResponder(baseUrl: string, model: string): StreamingResponder {
  const local = isLoopbackUrl(baseUrl);
  return async function* ({ text, localOnly }) {
    // As the hub's responder: a local-only message never goes to a model off this host.
    if (localOnly && !local) {
      yield LOCAL_ONLY_REFUSAL;
      return;
    }
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: text }] }),
    });
    if (!res.ok || !res.body) throw new Error(`responder: ${res.status} ${await res.text()}`);
    const reader = new SseReader();
    // A chunk that is not JSON or not of a chunk's shape is left out, as the proxy leaves it.
    const deltas = function* (events: string[]) {
      for (const data of events) {
        if (data === "[DONE]") continue;
        const delta = readChunk(data)?.choices?.[0]?.delta?.content;
        if (typeof delta === "string" && delta) yield delta;
      }
    };
    for await (const piece of res.body.pipeThrough(new TextDecoderStream())) {
      yield* deltas(reader.push(piece));
    }
    yield* deltas(reader.end());
  };
}

/**
 * Upgrades `request` to the WebChat WebSocket.
 *
 * @example
 * ```ts
 * // routes.get("/safeclaw/v1/webchat/ws", (c) => webchatSocket(c.req.raw, guard, hub, responder));
 * ```
 */
export function webchatSocket(
  request: Request,
  guard: Guard,
  hub: ChannelHub,
  responder: StreamingResponder,
): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return Response.json({ error: "expected a WebSocket upgrade" }, { status: 426 });
  }
  const user = new URL(request.url).searchParams.get("user")?.slice(0, 100) || crypto.randomUUID();
  const { socket, response } = Deno.upgradeWebSocket(request);
  const chat = crypto.randomUUID().slice(0, 8);
  const session = sessionKey("webchat", user, chat);
  const send = (value: unknown) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(value));
  };
  socket.onmessage = (event) => {
    let text: unknown;
    try {
      text = JSON.parse(String(event.data)).text;
    } catch {
      text = undefined;
    }
    if (typeof text !== "string" || !text.trim()) {
      send({ type: "error", message: 'send {"type":"message","text":"..."}' });
      return;
    }
    hub.run(session, async () => {
      const decision = await guard.inspectInput({ session, text: text as string });
      if (decision.action === "block") {
        send({
          type: "error",
          message: "This message was not processed: policy blocks its data or instructions.",
        });
        return;
      }
      // As the hub's: only the values this user sent come back in the reply.
      const sanitizer = await guard.outputStream(
        session,
        "placeholder",
        await guard.ownInputsScope(session),
      );
      for await (
        const delta of responder({ session, text: decision.text, localOnly: decision.localOnly })
      ) {
        const safe = sanitizer.push(delta);
        if (safe) send({ type: "delta", text: safe });
      }
      const rest = sanitizer.flush();
      if (rest) send({ type: "delta", text: rest });
      await sanitizer.recorded();
      send({ type: "done" });
    }).catch((error) =>
      send({ type: "error", message: `reply failed: ${(error as Error).message}` })
    );
  };
  return response;
}
