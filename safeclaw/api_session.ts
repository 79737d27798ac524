/**
 * Sessions named through the HTTP API belong to their caller. A client names its session
 * freely (`session` in a body, `x-a3s-session` or `user` in the proxy); it is stored as
 * `api:<caller>:<name>`, the caller being `token:<id>` or `anonymous`. So a client reaches only
 * sessions it named itself: never a channel's (keyed `user_id:channel_id:chat_id` by the hub)
 * nor another token's. Without this, anyone who could name a session could raise its level,
 * taint values in it, and learn from the placeholders `/sanitize` numbers which values its
 * vault already holds.
 *
 * Names are normalized before use (see {@linkcode normalizeSessionName}), so that a name that
 * only looks different (`"ratchet "`, `ratchet\u200b`, NFD `ratche\u0301t`) is the same session
 * and keeps its level. Case is not folded, since `Bob` and `bob` may be two users: a name differing
 * only in case stays its own session, but starts at the level of its case variants
 * ({@linkcode sessionFloorKey}), so a casing change never lowers the ratchet. No other
 * lookalike is merged (Cyrillic letters, fullwidth forms): those may be other users' names.
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
  return `api:${callerOf(request)}:${normalizeSessionName(name)}`;
}

/** Characters that show nothing: format controls (zero-width, bidi marks, a BOM, a soft hyphen). */
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u3164\uffa0\u180b-\u180f\ufe00-\ufe0f]/gu;

/**
 * A session name as it is keyed: Unicode NFC, invisible characters removed, surrounding white
 * space trimmed. What two names that normalize alike show is the same text, so they are one
 * session; anything a person can see differ (a letter, its case, a space inside) keeps them
 * apart.
 *
 * @example
 * ```ts
 * import { normalizeSessionName } from "./api_session.ts";
 * console.log(normalizeSessionName(" ratche\u0301t\u200b ") === "ratch\u00e9t"); // true
 * ```
 */
export function normalizeSessionName(name: string): string {
  return name.normalize("NFC").replace(INVISIBLE, "").trim();
}

/** The caller prefix of an API session key: `api:anonymous:` or `api:token:<id>:`. */
const API_PREFIX = /^api:(?:anonymous|token:[^:]*):/;

/**
 * The key whose sessions share a level floor with `session`: an API session's caller prefix
 * and its name in lower case (only the caller's own sessions, never another caller's), or the
 * key itself for a channel's session (a platform's ids are its own).
 *
 * @example
 * ```ts
 * import { sessionFloorKey } from "./api_session.ts";
 * console.log(sessionFloorKey("api:anonymous:HI")); // "api:anonymous:hi"
 * ```
 */
export function sessionFloorKey(session: string): string {
  const prefix = API_PREFIX.exec(session)?.[0];
  return prefix === undefined ? session : prefix + session.slice(prefix.length).toLowerCase();
}
