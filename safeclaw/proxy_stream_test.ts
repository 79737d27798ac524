import { assert, assertEquals } from "@a3s/common/testing";
import { withGuard } from "./testdata/guard.ts";
import { streamReply } from "./proxy_stream.ts";
import { eventData } from "./sse.ts";

/** An upstream whose body arrives in pieces of `size` characters. */
function upstream(sse: string, size: number): Response {
  const bytes = new TextEncoder().encode(sse);
  return new Response(
    new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
        controller.close();
      },
    }),
  );
}

const chunk = (content: string) =>
  JSON.stringify({ id: "c", choices: [{ index: 0, delta: { content }, finish_reason: null }] });

/** The content a client reads from the proxy's stream. */
async function contentOf(response: Response): Promise<{ content: string; raw: string }> {
  const raw = await response.text();
  const content = raw.split("\n\n").filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice(6)).choices?.[0]?.delta?.content ?? "").join("");
  return { content, raw };
}

Deno.test("eventData joins an event's data lines and skips comments", () => {
  assertEquals(eventData('data: {"a":\ndata: 1}'), '{"a":\n1}');
  assertEquals(eventData(": keep-alive"), undefined);
  assertEquals(eventData("event: x\ndata:[DONE]"), "[DONE]");
});

Deno.test("a stream with CRLF line ends, data split over lines and no closing blank line is read whole and sanitized", async () => {
  await withGuard(async (guard) => {
    // Before, CRLF events were never split (the reply came out empty), a JSON chunk split over
    // two data lines went out raw, address and all, and a last event without its blank line was
    // dropped.
    const sse = `data: ${chunk("Mail ada.l")}\r\n\r\n` +
      `data: {"id":"c","choices":[{"index":0,"delta":\r\ndata: {"content":"ovelace@example.org"},"finish_reason":null}]}\r\n\r\n` +
      `: keep-alive\r\n\r\n` +
      `data: ${chunk(" today.")}`;
    for (const size of [1, 2, 7, 1000]) {
      const { content, raw } = await contentOf(
        streamReply(upstream(sse, size), guard, "s", {}),
      );
      assertEquals(content, "Mail [EMAIL_1] today.", `pieces of ${size}`);
      assertEquals(raw.includes("lovelace"), false);
    }
  });
});

Deno.test("data that is not a JSON object is not passed on", async () => {
  await withGuard(async (guard) => {
    const sse = `data: ${chunk("hello")}\n\ndata: mail ada.lovelace@example.org\n\n` +
      `data: "bob@example.com"\n\ndata: [DONE]\n\n`;
    const { content, raw } = await contentOf(streamReply(upstream(sse, 5), guard, "s", {}));
    assertEquals(content, "hello");
    assertEquals(raw.includes("@example"), false);
    assert(raw.trim().endsWith("data: [DONE]"));
  });
});

const EMAIL = "zed.private@example.com";
const events = (chunks: unknown[]) =>
  chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
  id: "c",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

Deno.test("a value glued to a run too long to hold is redacted, though its start went out already", async () => {
  await withGuard(async (guard) => {
    // The run is cut after 4,096 characters; the address found across the cut was dropped,
    // and went out whole.
    const text = `data ${"QUJD".repeat(1100)}${EMAIL} end`;
    const sse = events(
      Array.from(
        { length: text.length / 4 },
        (_, i) => delta({ content: text.slice(i * 4, i * 4 + 4) }),
      ),
    );
    const { content } = await contentOf(streamReply(upstream(sse, 4096), guard, "s", {}));
    assertEquals(content.includes("@example.com"), false);
    assert(content.endsWith("[EMAIL_1] end"), content.slice(-40));
  });
});

Deno.test("a streamed tool call reaches the client with the values the model wrote redacted", async () => {
  await withGuard(async (guard) => {
    const call = { name: "note", arguments: JSON.stringify({ to: EMAIL }) };
    const sse = events([
      delta({ tool_calls: [{ index: 0, id: "t1", type: "function", function: call }] }),
      delta({}, "tool_calls"),
    ]);
    const { raw } = await contentOf(streamReply(upstream(sse, 64), guard, "s", {}));
    assertEquals(raw.includes(EMAIL), false);
    assert(raw.includes(String.raw`{\"to\":\"[EMAIL_1]\"}`), raw);
  });
});

Deno.test("a chunk without choices is sanitized, and held text goes out in its own chunk's envelope", async () => {
  await withGuard(async (guard) => {
    const sse = events([
      { ...delta({ content: "Sure" }), model: "m1" },
      { id: "c", error: { message: `tool args invalid: {"to":"${EMAIL}"}` } },
      { id: "c", choices: [], usage: { total_tokens: 5 } },
    ]);
    const { content, raw } = await contentOf(streamReply(upstream(sse, 64), guard, "s", {}));
    assertEquals(content, "Sure");
    // Before, the error went out raw, and the held "Sure" went out at [DONE] in the last
    // chunk's envelope, the usage repeated on it.
    assertEquals(raw.includes(EMAIL), false);
    const sent = raw.split("\n\n").filter((e) => e.startsWith("data: {"))
      .map((e) => JSON.parse(e.slice(6)));
    assertEquals(sent[0].error.message, 'tool args invalid: {"to":"[EMAIL_1]"}');
    const sure = sent.find((c) => c.choices?.[0]?.delta?.content === "Sure");
    assertEquals([sure.model, sure.usage, sure.error], ["m1", undefined, undefined]);
  });
});
