/**
 * Sessions named through the HTTP API belong to their caller. A client names its session
 * freely (`session` in a body, `x-a3s-session` or `user` in the proxy); it is stored as
 * `api:<caller>:<name>`, the caller being `token:<id>` or `anonymous`. So a client reaches only
 * sessions it named itself: never a channel's (keyed `user_id:channel_id:chat_id` by the hub)
 * nor another token's. Without this, anyone who could name a session could raise its level,
 * taint values in it, and learn from the placeholders `/sanitize` numbers which values its
 * vault already holds.
 */
import { callerOf } from "@a3s/common";

/** The longest session name a caller may give (a name is stored with every audit record). */
export const SESSION_NAME_MAX = 300;

/** The longest stored session key: a name with its `api:<caller>:` prefix, or a channel's key. */
export const SESSION_KEY_MAX = SESSION_NAME_MAX + 100;

/**
 * The stored key of the session `name` that `request`'s caller named.
 *
 * @example
 * ```ts
 * import { apiSession } from "./api_session.ts";
 * console.log(apiSession(new Request("http://127.0.0.1/"), "s1")); // "api:anonymous:s1"
 * ```
 */
export function apiSession(request: Request, name: string): string {
  return `api:${callerOf(request)}:${name}`;
}
