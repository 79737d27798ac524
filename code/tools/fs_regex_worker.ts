/**
 * The worker `grep` and `glob` match in: the main thread sends it patterns and text, and
 * terminates it when the call times out or is cancelled, so matching never holds up the
 * process. It runs {@linkcode LinearRegExp}, which V8 can interrupt (its own regular
 * expressions cannot be).
 *
 * @module
 */
import { LinearRegExp } from "./fs_regex.ts";

/** A request from {@linkcode PatternMatcher}. */
export type MatchRequest =
  | { id: number; op: "compile"; key: number; source: string; flags: string }
  | { id: number; op: "lines"; key: number; text: string }
  | { id: number; op: "test"; key: number; items: string[] };

/** The answer to request `id`. */
export type MatchReply =
  | { id: number; ok: true; hits?: number[]; results?: boolean[] }
  | { id: number; ok: false; error: string };

const compiled = new Map<number, LinearRegExp>();

function answer(request: MatchRequest): MatchReply {
  if (request.op === "compile") {
    compiled.set(request.key, LinearRegExp.compile(request.source, request.flags));
    return { id: request.id, ok: true };
  }
  const re = compiled.get(request.key);
  if (!re) throw new Error(`no pattern ${request.key}`);
  if (request.op === "test") {
    return { id: request.id, ok: true, results: request.items.map((s) => re.test(s)) };
  }
  const hits: number[] = [];
  if (re.mayMatch(request.text)) {
    request.text.split("\n").forEach((line, i) => {
      if (re.test(line)) hits.push(i);
    });
  }
  return { id: request.id, ok: true, hits };
}

/** The worker's global scope, typed as a worker sees it. */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<MatchRequest>) => void) | null;
  postMessage(message: MatchReply): void;
};

scope.onmessage = (event) => {
  let reply: MatchReply;
  try {
    reply = answer(event.data);
  } catch (error) {
    reply = { id: event.data.id, ok: false, error: (error as Error)?.message ?? String(error) };
  }
  scope.postMessage(reply);
};
