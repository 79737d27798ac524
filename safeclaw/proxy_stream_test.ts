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
