/**
 * The tool-call format, in one place: the tags a call is wrapped in, the constraint that keeps
 * a call's JSON valid, the hold-back that keeps a half-written tag out of the visible text,
 * and the parser that turns finished text into calls.
 *
 * A call looks like `<tool_call>\n{"name": "...", "arguments": {...}}\n</tool_call>`, the
 * Hermes/Qwen convention the shipped chat template teaches the model.
 */
import { ValidationError } from "@a3s/common";
import type { Tokenizer } from "./_tokenizer.ts";
import type { ToolDefinition } from "./chat_template.ts";
import { JsonConstraint, type TokenConstraint } from "./constraint.ts";
import { toolCallSchema } from "./json_schema.ts";

/** The tag that opens a tool call. */
export const TOOL_CALL_OPEN = "<tool_call>";
/** The tag that closes a tool call. */
export const TOOL_CALL_CLOSE = "</tool_call>";
const CALL_BLOCK = /<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g;

/** A parsed tool call: the function and its arguments. */
export interface ToolCall {
  /** The function's name. */
  name: string;
  /** Its arguments, parsed from JSON. */
  arguments: Record<string, unknown>;
}

/** How the model may call tools: OpenAI's `tool_choice`. */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/**
 * Splits generated text into visible content and the tool calls it holds.
 *
 * @example
 * ```ts
 * import { parseToolCalls } from "@a3s/power";
 * const { toolCalls } = parseToolCalls('<tool_call>{"name":"f","arguments":{}}</tool_call>');
 * console.log(toolCalls[0].name); // "f"
 * ```
 */
export function parseToolCalls(text: string): { content: string; toolCalls: ToolCall[] } {
  const toolCalls: ToolCall[] = [];
  const content = text.replace(CALL_BLOCK, (block, body: string) => {
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.name === "string") {
        const args = typeof parsed.arguments === "string"
          ? JSON.parse(parsed.arguments)
          : parsed.arguments ?? parsed.parameters ?? {};
        toolCalls.push({ name: parsed.name, arguments: args });
        return "";
      }
    } catch {
      // Not a well-formed call: leave it in the content.
    }
    return block;
  });
  return { content: toolCalls.length ? content.trim() : content, toolCalls };
}

/** The tools a request offers the model under `choice`; a named tool must exist. */
export function offeredTools(
  tools: readonly ToolDefinition[],
  choice: ToolChoice | undefined,
): ToolDefinition[] {
  if (!tools.length || choice === "none") return [];
  if (typeof choice === "object") {
    const tool = tools.find((t) => t.function.name === choice.name);
    if (!tool) {
      throw new ValidationError(`tool_choice: no tool named '${choice.name}'`, "tool_choice");
    }
    return [tool];
  }
  return [...tools];
}

/** The constraint for a request with tools, and whether all output is the call itself. */
export interface ToolCallDecoding {
  /** Keeps every call's JSON valid for its tool's parameters. */
  constraint: TokenConstraint;
  /** True when the model must call a tool, so no text of it is content. */
  callOnly: boolean;
}

/**
 * Chooses how tool calls are decoded: when a call is forced (`required` or a named tool) the
 * whole output is one constrained call; otherwise the model writes freely until it opens a
 * call, and the call's JSON is constrained from there.
 */
export function toolCallDecoding(
  tokenizer: Tokenizer,
  tools: readonly ToolDefinition[],
  choice: ToolChoice | undefined,
  eosTokens: readonly number[],
): ToolCallDecoding {
  const schema = toolCallSchema(
    tools.map((t) => ({ name: t.function.name, parameters: t.function.parameters })),
  );
  const suffix = `\n${TOOL_CALL_CLOSE}`;
  if (choice === "required" || typeof choice === "object") {
    return {
      constraint: new JsonConstraint(tokenizer, schema, eosTokens, {
        prefix: `${TOOL_CALL_OPEN}\n`,
        suffix,
      }),
      callOnly: true,
    };
  }
  return {
    constraint: new ToolCallTrigger(
      tokenizer,
      TOOL_CALL_OPEN,
      () => new JsonConstraint(tokenizer, schema, eosTokens, { prefix: "\n", suffix }),
    ),
    callOnly: false,
  };
}

/**
 * Separates visible content from tool calls while text streams in: everything from an opening
 * tag on is held, and so is a tail that may be the start of one (`<tool_c`), until the next
 * text shows what it is.
 */
export class ToolCallTextFilter {
  #all = "";
  #shown = 0;

  /** Appends generated text and returns what is now safe to show. */
  push(text: string): string {
    this.#all += text;
    const at = this.#all.indexOf(TOOL_CALL_OPEN);
    const end = at >= 0 ? at : this.#all.length - partialTagLength(this.#all);
    if (end <= this.#shown) return "";
    const visible = this.#all.slice(this.#shown, end);
    this.#shown = end;
    return visible;
  }

  /** How many characters of the text have been shown. */
  get shown(): number {
    return this.#shown;
  }
}

/** The length of the longest tail of `text` that is a proper prefix of the opening tag. */
function partialTagLength(text: string): number {
  for (let n = Math.min(TOOL_CALL_OPEN.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(TOOL_CALL_OPEN.slice(0, n))) return n;
  }
  return 0;
}

/**
 * Allows anything until the generated text contains `trigger`, then defers to the constraint
 * `start` builds (tool calls under `tool_choice: "auto"`).
 *
 * @example
 * ```ts ignore
 * const trigger = new ToolCallTrigger(tokenizer, "<tool_call>", () => jsonConstraint);
 * ```
 */
export class ToolCallTrigger implements TokenConstraint {
  #tokenizer: Tokenizer;
  #trigger: string;
  #start: () => TokenConstraint;
  #inner?: TokenConstraint;
  #tail = "";
  #decoder = new TextDecoder();

  constructor(tokenizer: Tokenizer, trigger: string, start: () => TokenConstraint) {
    this.#tokenizer = tokenizer;
    this.#trigger = trigger;
    this.#start = start;
  }

  allows(token: number): boolean {
    return this.#inner ? this.#inner.allows(token) : true;
  }

  mask(): Uint8Array {
    return this.#inner ? this.#inner.mask() : new Uint8Array(this.#tokenizer.vocabSize).fill(1);
  }

  advance(token: number): void {
    if (this.#inner) {
      this.#inner.advance(token);
      return;
    }
    this.#tail += this.#decoder.decode(this.#tokenizer.tokenBytes(token), { stream: true });
    const at = this.#tail.indexOf(this.#trigger);
    if (at >= 0) {
      this.#inner = this.#start();
      // Whatever followed the trigger in the same token still has to fit the call.
      const after = this.#tail.slice(at + this.#trigger.length);
      for (const id of after ? this.#tokenizer.encode(after, { special: "none" }) : []) {
        this.#inner.advance(id);
      }
    } else {
      this.#tail = this.#tail.slice(-this.#trigger.length);
    }
  }

  isComplete(): boolean {
    return this.#inner ? this.#inner.isComplete() : true;
  }

  mustEnd(): boolean {
    return this.#inner?.mustEnd() ?? false;
  }

  completion(): string {
    return this.#inner?.completion() ?? "";
  }

  completionTokens(): number[] {
    return this.#inner?.completionTokens() ?? [];
  }

  minimalLength(): number {
    return this.#inner?.minimalLength() ?? 0;
  }

  minimalLengthAfter(token: number): number {
    // Before the trigger nothing is owed; the step that opens a call is bounded by the next.
    return this.#inner?.minimalLengthAfter(token) ?? 0;
  }
}
