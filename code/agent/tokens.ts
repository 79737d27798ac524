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

// Messages and tool lists do not change once made, so each is counted once.
const messageCounts = new WeakMap<Message, number>();
const toolCounts = new WeakMap<ToolSpec[], number>();

function messageTokens(count: Counter, m: Message): number {
  let n = messageCounts.get(m);
  if (n === undefined) {
    n = 4 + count(m.content);
    if (m.role === "assistant") {
      for (const c of m.toolCalls ?? []) n += 8 + count(JSON.stringify(c.arguments));
    }
    messageCounts.set(m, n);
  }
  return n;
}

/** Tokens of a request: messages (with a small per-message overhead) and tool schemas, times `ratio`. */
export function countRequest(
  count: Counter,
  messages: Message[],
  tools: ToolSpec[] = [],
  ratio = 1,
): number {
  let total = 0;
  for (const m of messages) total += messageTokens(count, m);
  let t = toolCounts.get(tools);
  if (t === undefined) {
    t = 0;
    for (const tool of tools) {
      t += 8 + count(`${tool.name} ${tool.description} ${JSON.stringify(tool.parameters)}`);
    }
    toolCounts.set(tools, t);
  }
  return Math.ceil((total + t) * ratio);
}
