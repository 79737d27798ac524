import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert";
import { Template } from "@huggingface/jinja";
import { get_encoding } from "tiktoken";
import { TokenizerLoader } from "@lenml/tokenizers";
import { countChatTokens, renderChatTemplate } from "./chat.ts";
import { getEncoding } from "./tiktoken.ts";
import { loadTokenizer } from "./load.ts";
import { FIXTURES } from "./_hf_fixtures.ts";

// The example conversation of OpenAI's "How to count tokens with tiktoken" guide, for which
// the API reports 129 prompt tokens on gpt-3.5-turbo-0613 and gpt-4-0613 (cl100k_base).
const OPENAI_EXAMPLE = [
  {
    role: "system",
    content:
      "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
  },
  {
    role: "system",
    name: "example_user",
    content: "New synergies will help drive top-line growth.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Things working well together will increase revenue.",
  },
  {
    role: "system",
    name: "example_user",
    content:
      "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Let's talk later when we're less busy about how to do better.",
  },
  {
    role: "user",
    content:
      "This late pivot means we don't have time to boil the ocean for the client deliverable.",
  },
];

Deno.test("OpenAI message lists cost what the API reports", async () => {
  const enc = await getEncoding("cl100k_base");
  assertEquals(countChatTokens(enc, OPENAI_EXAMPLE), 129);
  // The same accounting spelled out with the reference bindings.
  const reference = get_encoding("o200k_base");
  const o200k = await getEncoding("o200k_base");
  let expected = 3;
  for (const message of OPENAI_EXAMPLE) {
    expected += 3;
    for (const [key, value] of Object.entries(message)) {
      expected += reference.encode_ordinary(value).length + (key === "name" ? 1 : 0);
    }
  }
  assertEquals(countChatTokens(o200k, OPENAI_EXAMPLE), expected);
  assertEquals(
    countChatTokens(o200k, [{
      role: "user",
      content: [{ type: "text", text: "hi" }, { type: "image_url" }],
    }]),
    3 + 1 + 1 + 3,
  );
  throws(() => countChatTokens(o200k, [{ content: "no role" } as never]), /role/);
  enc.free();
  o200k.free();
  reference.free();
});

Deno.test("Hugging Face chat templates: rendered with jinja, counted as transformers.js encodes", async () => {
  const fixture = await FIXTURES.qwen3();
  const ours = await loadTokenizer(fixture.json);
  const reference = TokenizerLoader.fromPreTrained({
    tokenizerJSON: fixture.json,
    tokenizerConfig: fixture.config,
  });
  const template = String(fixture.config.chat_template);
  const conversations = [
    [{ role: "user", content: "Hello! What's 2+2? 你好 😀" }],
    [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Name three primes." },
      { role: "assistant", content: "2, 3, 5." },
      { role: "user", content: "And <|im_end|> is a special token." },
    ],
  ];
  for (const messages of conversations) {
    // transformers.js's apply_chat_template is: render, then encode without BOS/EOS templates.
    // (The jinja bundled in @lenml/tokenizers predates Qwen3's template, so render here.)
    const text = new Template(template).render({ messages, add_generation_prompt: true });
    assertEquals(renderChatTemplate(template, messages, { add_generation_prompt: true }), text);
    assert(text.endsWith("<|im_start|>assistant\n"), text);
    const ids = reference.encode(text, { add_special_tokens: false });
    assertEquals(countChatTokens(ours, messages, { template }), ids.length);
    assertEquals(Array.from(ours.encode(text, { special: "all", addSpecialTokens: false })), ids);
  }
  throws(() => countChatTokens(ours, [], { template: "{% for %}" }), /template/);
  ours.free();
  // With its tokenizer_config.json, the tokenizer brings its own template.
  const withConfig = await loadTokenizer(fixture.json, fixture.config);
  assertEquals(withConfig.chatTemplate, template);
  const messages = conversations[1];
  const text = new Template(template).render({ messages, add_generation_prompt: true });
  assertEquals(
    countChatTokens(withConfig, messages),
    reference.encode(text, { add_special_tokens: false }).length,
  );
  withConfig.free();
});
