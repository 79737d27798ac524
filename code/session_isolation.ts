/**
 * What keeps one conversation on a shared agent apart from the others (a chat of safeclaw's
 * channels, an end user of the chat-completions route): its own box and workspace folder, where
 * the agent's sandbox keeps sessions apart, and its own memory.
 */
import type { AgentConfig } from "./config/schema.ts";
import type { SessionOptions } from "./agent/session.ts";

/**
 * The session options that give the conversation keyed `key` its own box, folder and memory.
 * The key stays the same across the conversation's sessions (and serve's restarts), so they
 * find its files and memories again. Its memory is the agent's shared one where the config
 * says so (`memory.chats = "shared"`).
 */
export function isolatedSession(
  config: AgentConfig,
  key: string,
): Pick<SessionOptions, "sandboxKey" | "memoryNamespace"> {
  return {
    sandboxKey: key,
    // One user never recalls what another told the agent, unless its chats share one memory.
    ...(config.memory.chats === "shared" ? {} : { memoryNamespace: key }),
  };
}

/**
 * The key of an end user named by `user` on the chat-completions route, which no chat's key
 * (`user:channel:chat`) can equal: a chat's has at least two colons, this one exactly one, the
 * name's own colons (and percent signs) escaped. A prefix alone could be forged: a WebChat user
 * who calls itself `completions` would have reached the files of the end user `webchat:<chat>`.
 *
 * @example
 * ```ts
 * import { endUserKey } from "./session_isolation.ts";
 * console.log(endUserKey("webchat:alice")); // "completions:webchat%3Aalice"
 * ```
 */
export function endUserKey(user: string): string {
  return `completions:${user.replaceAll("%", "%25").replaceAll(":", "%3A")}`;
}

/**
 * The session id of the conversation keyed `key` on the agent named `agentName`: the same on
 * every run, so a chat's conversation goes on after serve restarts (its files and memories are
 * keyed the same way). A hash, so the id says nothing of who is chatting.
 *
 * @example
 * ```ts
 * import { keyedSessionId } from "./session_isolation.ts";
 * const id = await keyedSessionId("default", "42:telegram:42");
 * console.log(id === await keyedSessionId("default", "42:telegram:42")); // true
 * ```
 */
export async function keyedSessionId(agentName: string, key: string): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([agentName, key]));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest.subarray(0, 10), (b) => b.toString(16).padStart(2, "0")).join("");
  return `ses_${hex}`;
}
