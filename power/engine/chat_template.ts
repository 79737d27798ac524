/** Chat prompts rendered from the model's own Jinja chat template. */
import { Template } from "@huggingface/jinja";
import { A3sError } from "@a3s/common";

/** A tool call in a message, in OpenAI's shape with arguments as an object. */
export interface ChatToolCall {
  /** The call's id, which a `tool` message answers with `tool_call_id`. */
  id?: string;
  /** Always `function`. */
  type?: "function";
  /** The function called and its arguments. */
  function: { name: string; arguments: Record<string, unknown> };
}

/** One chat message. */
export interface ChatMessage {
  /** Who speaks: `tool` carries a tool's result. */
  role: "system" | "user" | "assistant" | "tool";
  /** The message's text. */
  content: string;
  /** Calls an assistant message made. */
  tool_calls?: ChatToolCall[];
  /** The call a `tool` message answers. */
  tool_call_id?: string;
  /** The tool's name, on a `tool` message. */
  name?: string;
}

/** A tool the model may call, in OpenAI's `{type: "function", function}` shape. */
export interface ToolDefinition {
  /** Always `function`. */
  type: "function";
  /** The function's name, what it does, and a JSON Schema of its parameters. */
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** ChatML, for models that ship no template of their own. */
const FALLBACK_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const cache = new Map<string, Template>();

/**
 * Renders `messages` (and `tools`) through `template`, ending with the assistant's turn.
 *
 * @example
 * ```ts
 * const prompt = renderChat(undefined, [{ role: "user", content: "hi" }], {});
 * ```
 */
export function renderChat(
  template: string | undefined,
  messages: readonly ChatMessage[],
  context: { tools?: readonly ToolDefinition[]; bosToken?: string; eosToken?: string },
): string {
  const source = template ?? FALLBACK_TEMPLATE;
  let compiled = cache.get(source);
  if (!compiled) {
    try {
      compiled = new Template(source);
    } catch (error) {
      throw new A3sError("invalid_template", `chat template: ${(error as Error).message}`, {
        status: 400,
      });
    }
    cache.set(source, compiled);
  }
  try {
    return compiled.render({
      messages,
      tools: context.tools?.length ? context.tools : undefined,
      add_generation_prompt: true,
      bos_token: context.bosToken ?? "",
      eos_token: context.eosToken ?? "",
    });
  } catch (error) {
    throw new A3sError("invalid_request", `chat template: ${(error as Error).message}`, {
      status: 400,
      field: "messages",
    });
  }
}
