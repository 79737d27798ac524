import { assert, assertEquals } from "@a3s/common/testing";
import {
  checkFunctionCall,
  checkToolCalls,
  editJsonStrings,
  type ReplyChoice,
  sanitizeChoice,
} from "./proxy_reply.ts";
import { withGuard } from "./testdata/guard.ts";

const upper = (s: string) => Promise.resolve(s.replaceAll("ada", 'A"D\\A'));

Deno.test("editJsonStrings edits every string of JSON arguments and keeps them valid JSON", async () => {
  const args = JSON.stringify({ to: ["ada@x.org"], note: { ada: "hi ada" }, n: 3, ok: true });
  const edited = await editJsonStrings(args, upper);
  assertEquals(JSON.parse(edited), {
    to: ['A"D\\A@x.org'],
    note: { 'A"D\\A': 'hi A"D\\A' },
    n: 3,
    ok: true,
  });
});

Deno.test("editJsonStrings edits text that is not JSON as one string, and leaves unchanged text as it came", async () => {
  assertEquals(await editJsonStrings("mail ada now", upper), 'mail A"D\\A now');
  const spaced = '{ "cmd" :  "ls" }';
  assertEquals(await editJsonStrings(spaced, upper), spaced);
});

const EMAIL = "zed.private@example.com";
const CARD = "4111 1111 1111 1111";

Deno.test("a tool call reaches the client with the values that are not the user's redacted, the user's own put back", async () => {
  await withGuard(async (guard) => {
    const own = (await guard.vault("s")).placeholderFor("email", "ada@example.org", "input");
    const choice: ReplyChoice = {
      message: {
        content: null,
        tool_calls: [{
          id: "t1",
          type: "function",
          function: {
            name: `note_${EMAIL}`,
            arguments: JSON.stringify({ to: EMAIL, cc: own, card: CARD }),
          },
        }],
        function_call: { name: "mail", arguments: JSON.stringify({ to: EMAIL }) },
      },
    };
    await checkToolCalls(guard, "s", choice);
    await checkFunctionCall(guard, "s", choice);
    // Before, the address and the card the model wrote came back as it wrote them.
    const call = choice.message!.tool_calls![0].function!;
    const args = JSON.parse(call.arguments!);
    assertEquals([args.cc, args.card], ["ada@example.org", "[CREDIT_CARD_1]"]);
    assert(/^\[EMAIL_\d+\]$/.test(args.to), args.to);
    assertEquals(call.name!.includes(EMAIL), false);
    assertEquals(JSON.parse(choice.message!.function_call!.arguments!), { to: args.to });
    // Each call's redaction is audited, as a reply's is (before, none was).
    const records = await guard.audit.list({ session: "s", kind: "redaction" });
    const calls = records.filter((r) => r.data.direction === "tool_call");
    assertEquals(calls.length, 2, JSON.stringify(records));
    assertEquals(
      [...(calls[0].data.types as string[]), ...(calls[1].data.types as string[])].sort(),
      ["credit_card", "email", "email"],
    );
    assertEquals(JSON.stringify(calls).includes(EMAIL), false);
  });
});

Deno.test("every string of a whole reply's choice is sanitized, not only the fields the proxy knows", async () => {
  await withGuard(async (guard) => {
    const choice: Record<string, unknown> = {
      index: 0,
      text: `mail ${EMAIL}`,
      logprobs: null,
      message: {
        role: "assistant",
        content: [
          { type: "text", text: `a ${EMAIL}` },
          { type: "refusal", refusal: `I won't mail ${EMAIL}` },
          { type: "output_text", text: "x", annotations: [{ type: "url_citation", title: EMAIL }] },
        ],
        tool_calls: null,
      },
    };
    // Before, the choice's `text`, the refusal part and the annotation's title came back raw.
    assertEquals(await sanitizeChoice(guard, "s", choice), true);
    assertEquals(JSON.stringify(choice).includes(EMAIL), false);
    assertEquals(choice.text, "mail [EMAIL_1]");
    assertEquals(await sanitizeChoice(guard, "s", { message: { content: "hello" } }), false);
  });
});
