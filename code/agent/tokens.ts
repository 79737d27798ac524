/** Token counting with the WebAssembly tokenizer, for the budget and compaction. */
import { getEncoding } from "@a3s/wasm/tokenizer";
import type { Message, ToolSpec } from "../llm/types.ts";

type Counter = (text: string) => number;
let counter: Promise<Counter> | undefined;

/** The shared counter (cl100k_base: close enough across providers to budget a context). */
export function tokenCounter(): Promise<Counter> {
  counter ??= getEncoding("cl100k_base").then((enc) => (text: string) => enc.count(text));
  return counter;
}

/** Tokens of a request: messages (with a small per-message overhead) and tool schemas. */
export function countRequest(count: Counter, messages: Message[], tools: ToolSpec[] = []): number {
  let total = 0;
  for (const m of messages) {
    total += 4 + count(m.content);
    if (m.role === "assistant") for (const c of m.toolCalls ?? []) total += 8 + count(JSON.stringify(c.arguments));
  }
  for (const t of tools) total += 8 + count(`${t.name} ${t.description} ${JSON.stringify(t.parameters)}`);
  return total;
}
