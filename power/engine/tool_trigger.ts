/**
 * Tool calls under `tool_choice: "auto"`: the model writes freely until it opens a tool call,
 * and from then on the call's JSON is constrained like structured output.
 */
import type { Tokenizer } from "./_tokenizer.ts";
import type { TokenConstraint } from "./constraint.ts";

/**
 * Allows anything until the generated text ends with `trigger`, then defers to the
 * constraint `start` builds.
 *
 * @example
 * ```ts
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
}
