/**
 * WebChat: the built-in page's WebSocket. Each message goes through safeclaw (classify,
 * injection, ratchet), then through the hub's per-session lane to the streaming responder; the
 * reply streams back through the output sanitizer, delta by delta.
 */
import type { Guard } from "../guard.ts";
import {
  type ChannelHub,
  LOCAL_ONLY_HEADER,
  LOCAL_ONLY_REFUSAL,
  replyFailedNotice,
} from "./hub.ts";
import { A3sError, isLoopbackUrl, OriginPolicy, renderError } from "@a3s/common";
import { sessionKey } from "./types.ts";
import { SseReader } from "../sse.ts";
import { readChunk } from "../reply_schema.ts";

/** Streams a reply: the agent framework takes this place when it lands. */
export type StreamingResponder = (input: {
  session: string;
  text: string;
  localOnly: boolean;
  /** Aborted when the page closed: stop the turn. */
  signal?: AbortSignal;
}) => AsyncIterable<string>;

/**
 * The largest message a page may send, in UTF-16 units: chat platforms cap theirs far lower
 * (Telegram 4,096 characters, Slack 40,000), and a frame of megabytes held the server for seconds.
 */
export const MAX_WEBCHAT_MESSAGE = 64 * 1024;

/** Messages one page may have waiting or in flight; more are refused until a reply is done. */
export const MAX_WEBCHAT_PENDING = 2;

/** A streaming responder over an OpenAI-compatible chat API (power by default). */
export function chatStreamResponder(baseUrl: string, model: string): StreamingResponder {
  const local = isLoopbackUrl(baseUrl);
  return async function* ({ text, localOnly, signal }) {
    // As the hub's responder: a local-only message never goes to a model off this host.
    if (localOnly && !local) {
      yield LOCAL_ONLY_REFUSAL;
      return;
    }
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", [LOCAL_ONLY_HEADER]: String(localOnly) },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: text }] }),
      signal,
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

/** A refusal in the RFC 9457 problem+json shape every other route under `/safeclaw/v1` answers in. */
function problem(request: Request, error: A3sError): Response {
  const { contentType, body } = renderError("problem", error, new URL(request.url).pathname);
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { "content-type": contentType },
  });
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
  options: { origins?: readonly string[] } = {},
): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return problem(
      request,
      new A3sError("upgrade_required", "expected a WebSocket upgrade", {
        status: 426,
        field: "upgrade",
      }),
    );
  }
  // The socket drives an agent that runs commands. A browser opens it from the page `serve`
  // gives (same origin) or from an origin configured for it; a page from any other local port
  // (a dev server, a tool's UI), let through to the rest of the API as Ollama does, is not.
  const origin = request.headers.get("origin");
  const host = request.headers.get("host") ?? undefined;
  if (
    origin !== null &&
    !new OriginPolicy(options.origins ?? []).allows(origin, host, { loopback: false })
  ) {
    return problem(
      request,
      new A3sError(
        "forbidden_origin",
        `origin '${origin}' may not open the WebChat socket; open the page serve gives, or add the origin to security.origins`,
        { status: 403, field: "origin" },
      ),
    );
  }
  const user = new URL(request.url).searchParams.get("user")?.slice(0, 100) || crypto.randomUUID();
  const { socket, response } = Deno.upgradeWebSocket(request);
  const chat = crypto.randomUUID().slice(0, 8);
  const session = sessionKey("webchat", user, chat);
  const send = (value: unknown) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(value));
  };
  // A page that closes takes its turns with it: queued ones never start, a running one stops.
  const closed = new AbortController();
  socket.onclose = () => closed.abort(new Error("the page closed"));
  let pending = 0;
  socket.onmessage = (event) => {
    if (typeof event.data !== "string" || event.data.length > MAX_WEBCHAT_MESSAGE * 2) {
      send({
        type: "error",
        message: `a message is text of at most ${MAX_WEBCHAT_MESSAGE} characters`,
      });
      if (typeof event.data !== "string") socket.close(1003, "text frames only");
      else socket.close(1009, "message too big");
      return;
    }
    let text: unknown;
    try {
      text = JSON.parse(event.data).text;
    } catch {
      text = undefined;
    }
    if (typeof text !== "string" || !text.trim()) {
      send({ type: "error", message: 'send {"type":"message","text":"..."}' });
      return;
    }
    if (text.length > MAX_WEBCHAT_MESSAGE) {
      send({ type: "error", message: `a message is at most ${MAX_WEBCHAT_MESSAGE} characters` });
      return;
    }
    if (pending >= MAX_WEBCHAT_PENDING) {
      send({ type: "error", message: "wait for a reply before sending more messages" });
      return;
    }
    pending++;
    const signal = closed.signal;
    hub.run(session, async () => {
      if (signal.aborted) return;
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
        const delta of responder({
          session,
          text: decision.text,
          localOnly: decision.localOnly,
          signal,
        })
      ) {
        if (signal.aborted) break;
        const safe = sanitizer.push(delta);
        if (safe) send({ type: "delta", text: safe });
      }
      const rest = sanitizer.flush();
      if (rest) send({ type: "delta", text: rest });
      await sanitizer.recorded();
      send({ type: "done" });
    }).catch(async (error) => {
      if (signal.aborted) return;
      // As a channel's: the page hears that it failed; the error, redacted, is audited.
      send({
        type: "error",
        message: replyFailedNotice(await hub.recordFailure(session, "webchat", error)),
      });
    }).finally(() => pending--);
  };
  return response;
}
