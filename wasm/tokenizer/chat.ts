/**
 * Token counts of chat conversations: OpenAI-style message lists (with the per-message overhead
 * OpenAI's own counting uses), and Hugging Face chat templates rendered with @huggingface/jinja.
 */
import { Template } from "@huggingface/jinja";
import { ValidationError } from "@a3s/common/errors";
import type { Tokenizer } from "./types.ts";

/** A content part of a multi-part message; only text parts carry tokens here. */
export interface ChatContentPart {
  /** Part kind, e.g. `"text"` or `"image_url"`. */
  type: string;
  /** The text of a text part. */
  text?: string;
  /** Other fields of the part. */
  [key: string]: unknown;
}

/** One chat message. */
export interface ChatMessage {
  /** `system`, `user`, `assistant`, `tool`... */
  role: string;
  /** Text, or a list of parts. */
  content?: string | ChatContentPart[] | null;
  /** Optional author name (costs one more token in OpenAI's accounting). */
  name?: string;
  /** Other fields; string fields are counted, as OpenAI counts them. */
  [key: string]: unknown;
}

/** Options of {@linkcode countChatTokens}. */
export interface ChatCountOptions {
  /**
   * A Hugging Face chat template (jinja). The conversation is rendered with it and the rendered
   * text is counted with special tokens recognized. Defaults to the tokenizer's own
   * `chatTemplate` (from its tokenizer_config.json); without either, OpenAI's accounting is used.
   */
  template?: string;
  /** Variables for the template besides `messages` (e.g. `bos_token`, `tools`). */
  templateContext?: Record<string, unknown>;
  /** Append the assistant prompt (template) or count the reply priming (OpenAI). Default true. */
  addGenerationPrompt?: boolean;
  /** OpenAI counting: tokens every message adds (default 3, as for gpt-3.5-turbo and later). */
  tokensPerMessage?: number;
  /** OpenAI counting: tokens a `name` field adds (default 1). */
  tokensPerName?: number;
  /** OpenAI counting: tokens that prime the reply, `<|start|>assistant<|message|>` (default 3). */
  replyTokens?: number;
}

function textOf(content: ChatMessage["content"], index: number): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) {
    throw new ValidationError(
      `messages[${index}].content must be a string or a list of parts`,
      `messages[${index}].content`,
    );
  }
  return content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("");
}

/**
 * Counts the tokens a conversation costs.
 *
 * Without a template this is OpenAI's accounting: every message costs `tokensPerMessage` plus
 * the tokens of each string field (role, content, name...), a name costs `tokensPerName` more,
 * and the reply priming costs `replyTokens`. With a template, the rendered prompt is counted.
 *
 * @example
 * ```ts
 * import { countChatTokens, getEncoding } from "@a3s/wasm/tokenizer";
 * const enc = await getEncoding("o200k_base");
 * const n = countChatTokens(enc, [{ role: "user", content: "Hello!" }]);
 * console.log(n); // 9
 * enc.free();
 * ```
 */
export function countChatTokens(
  tokenizer: Tokenizer,
  messages: ChatMessage[],
  options: ChatCountOptions = {},
): number {
  if (!Array.isArray(messages)) {
    throw new ValidationError("messages must be a list", "messages");
  }
  const generationPrompt = options.addGenerationPrompt ?? true;
  const template = options.template ?? tokenizer.chatTemplate;
  if (template !== undefined) {
    const rendered = renderChatTemplate(template, messages, {
      ...options.templateContext,
      add_generation_prompt: generationPrompt,
    });
    return tokenizer.count(rendered, { special: "all" });
  }
  const perMessage = options.tokensPerMessage ?? 3;
  const perName = options.tokensPerName ?? 1;
  let total = 0;
  messages.forEach((message, index) => {
    if (typeof message?.role !== "string") {
      throw new ValidationError(
        `messages[${index}].role must be a string`,
        `messages[${index}].role`,
      );
    }
    total += perMessage;
    for (const [key, value] of Object.entries(message)) {
      if (key === "content") total += tokenizer.count(textOf(message.content, index));
      else if (typeof value === "string") total += tokenizer.count(value);
      if (key === "name") total += perName;
    }
  });
  return total + (generationPrompt ? options.replyTokens ?? 3 : 0);
}

/**
 * Renders a Hugging Face chat template.
 *
 * @example
 * ```ts
 * import { renderChatTemplate } from "@a3s/wasm/tokenizer";
 * const text = renderChatTemplate(
 *   "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
 *   [{ role: "user", content: "hi" }],
 * );
 * console.log(text);
 * ```
 */
export function renderChatTemplate(
  template: string,
  messages: ChatMessage[],
  context: Record<string, unknown> = {},
): string {
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (error) {
    throw new ValidationError(
      `chat template does not parse: ${(error as Error).message}`,
      "template",
    );
  }
  return compiled.render({ bos_token: "", eos_token: "", ...context, messages });
}
