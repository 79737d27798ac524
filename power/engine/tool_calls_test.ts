import { assert, assertEquals } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "./_tokenizer.ts";
import { JsonConstraint } from "./constraint.ts";
import { toolCallSchema } from "./json_schema.ts";
import { parseToolCalls, ToolCallTrigger } from "./tool_calls.ts";

const tokenizer = await loadTokenizer(fileURLToPath(new URL("../testdata/tiny", import.meta.url)));
const EOS = tokenizer.specialTokens.get("<|im_end|>")!;

Deno.test("under tool_choice auto, text is free until a call opens, then the call is constrained", () => {
  const trigger = new ToolCallTrigger(tokenizer, "<tool_call>", () =>
    new JsonConstraint(
      tokenizer,
      toolCallSchema([{ name: "get_time", parameters: { type: "object", properties: {} } }]),
      [EOS],
      { prefix: "\n", suffix: "\n</tool_call>" },
    ));
  const feed = (text: string) => {
    for (const id of tokenizer.encode(text, { special: "all" })) {
      assert(trigger.allows(id), `refused ${JSON.stringify(tokenizer.decode([id]))}`);
      trigger.advance(id);
    }
  };
  feed("Let me check. ");
  assert(trigger.allows(EOS) && trigger.isComplete());
  assertEquals(trigger.completion(), "");
  feed("<tool_call>");
  assert(!trigger.allows(EOS));
  assert(!trigger.allows(tokenizer.encode("x", { special: "none" })[0]));
  feed('\n{"name": "get_time", "arguments": {');
  const text = 'Let me check. <tool_call>\n{"name": "get_time", "arguments": {' +
    trigger.completion();
  const parsed = parseToolCalls(text);
  assertEquals(parsed.content, "Let me check.");
  assertEquals(parsed.toolCalls, [{ name: "get_time", arguments: {} }]);
  feed("}}\n</tool_call>");
  assert(trigger.mustEnd());
});
