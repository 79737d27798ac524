/**
 * JSON from outside (a webhook, an upstream's reply, a registry's manifest, a broker's message)
 * read as the schema says it must be, before any field is used: one place for the parse, the
 * check and the first thing wrong, which each caller words for its own answer.
 */
import type { z } from "zod";
import type { ZodIssueLike } from "./router.ts";

/** `text` read as `schema`: its value, or what is wrong (no `issue`: it is not JSON at all). */
export type ParsedJson<T> = { ok: true; value: T } | { ok: false; issue?: ZodIssueLike };

/**
 * Parses `text` as JSON and checks it against `schema`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJson } from "@a3s/common";
 * console.log(parseJson(z.object({ n: z.number() }), '{"n":1}')); // { ok: true, value: { n: 1 } }
 * console.log(parseJson(z.object({ n: z.number() }), "{oops").ok); // false
 * ```
 */
export function parseJson<T>(schema: z.ZodType<T, unknown>, text: string): ParsedJson<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  const parsed = schema.safeParse(json);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, issue: parsed.error.issues[0] };
}
