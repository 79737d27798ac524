/**
 * The agent as safeclaw's channel responder: each chat session (`user:channel:chat`) keeps one
 * agent session, so a conversation has memory; once the chat has been idle for a while the
 * session closes (its box goes) and the chat's next message reopens it on the same conversation.
 * safeclaw has already classified the message, checked it for injection and queued it in the
 * session's lane (one turn at a time), and it sanitizes the reply after this returns.
 */
import type { Guard } from "@a3s/safeclaw";
import type { Agent } from "./agent/agent.ts";
import type { AgentPool } from "./routes.ts";
import { isolatedSession } from "./session_isolation.ts";
import { modelIsLocal } from "./policy/model_locality.ts";
import { safeclawToolCalls } from "./policy/tool_calls.ts";

/**
 * True when the agent's default model runs on this machine: power in process (a provider with
 * no URL) or a provider on a loopback address.
 */
export function agentModelIsLocal(agent: Agent): boolean {
  return modelIsLocal(agent.config, agent.config.default_model);
}

/** What a channel user sees when their data may not leave the machine and the agent's model would send it away. */
export const LOCAL_ONLY_REFUSAL =
  "This conversation holds data that may only go to a local model, and this agent's model is remote.";

/**
 * One chat message for the agent, as safeclaw's channels hand it over (its `Responder` and
 * WebChat's `StreamingResponder` take this shape; `signal` is optional, so a responder typed
 * with it fits both with and without it).
 */
export interface ChannelTurn {
  /** The chat's safeclaw session, `user:channel:chat`. */
  session: string;
  /** The message as safeclaw passes it on (redacted where policy says so). */
  text: string;
  /** True when the chat's data may only go to local models (safeclaw's session ratchet). */
  localOnly: boolean;
  /**
   * Cancels the turn when it fires (a WebChat socket that closed): the model call, running
   * tools and commands and subagents stop, and the responder rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** Answers a chat message whole: what safeclaw's `Responder` is. */
export type ChannelResponder = (input: ChannelTurn) => Promise<string>;

/** Answers a chat message as a stream of text: what WebChat's `StreamingResponder` is. */
export type ChannelStreamingResponder = (input: ChannelTurn) => AsyncIterable<string>;

/** What {@linkcode agentChannelResponder} may be given. */
export interface ChannelResponderOptions {
  /**
   * safeclaw's server guard: each tool call is checked by its `inspectToolCall` under the chat's
   * session, so the chat's taints count and the decision lands in safeclaw's audit log.
   */
  guard?: Pick<Guard, "inspectToolCall">;
  /**
   * Milliseconds a chat's session may go without a message before it is closed; the agent's
   * `box.session_idle_minutes` when unset.
   */
  idleMs?: number;
}

/**
 * A responder that answers with `agentName`'s agent from `pool`. Tool calls that need approval
 * are refused: a chat user has no approval prompt, and a turn must not wait forever in the lane;
 * so are the calls safeclaw holds (commands reaching hosts off its allow list, tainted data),
 * and those it blocks never run. Its tool output is inspected under the chat's safeclaw
 * session, so a key a command printed raises the chat's level. Each chat works in a workspace
 * folder of its own (and a box of its own on the box driver) where the agent's sandbox keeps
 * sessions apart (serve with channels), and remembers in a memory of its own
 * (`memory.chats = "session"`, the default). A chat's session closes once idle for the agent's
 * `box.session_idle_minutes` (`options.idleMs`), never during a turn; its history, memory and
 * files stay for its next message.
 *
 * A local-only message (`localOnly`: the chat is at or above safeclaw's local-only level, which
 * only goes up) is answered only by models on this machine: the agent's own model being remote,
 * it is refused with {@linkcode LOCAL_ONLY_REFUSAL} before anything runs; otherwise the turn runs
 * local-only, and a subagent, plan or compaction on a remote model is refused (the model reads
 * why) rather than sent the data. The chat's session then stays local-only for good. An aborted
 * `signal` cancels the turn, and the returned promise rejects with its reason.
 *
 * @example
 * ```ts ignore
 * const safeclaw = ctx.modules.safeclaw as SafeclawApi;
 * const stop = safeclaw.channels.use(agentChannelResponder(pool, "default", { guard: safeclaw }));
 * ```
 */
export function agentChannelResponder(
  pool: AgentPool,
  agentName: string,
  options: ChannelResponderOptions = {},
): ChannelResponder {
  const toolCallInspector = options.guard ? safeclawToolCalls(options.guard) : undefined;
  return async ({ session: key, text, localOnly, signal }) => {
    // Cancelled while queued in the chat's lane: nothing is opened.
    signal?.throwIfAborted();
    const agent = await pool.agent(agentName);
    if (localOnly && !agentModelIsLocal(agent)) return LOCAL_ONLY_REFUSAL;
    // Listed with the HTTP sessions while open, so its history can be read at
    // /code/v1/sessions/{id}.
    const held = await pool.hold(agentName, key, {
      // No chat user has an approval prompt, and a turn must not wait forever in the lane.
      approver: () => Promise.resolve(false),
      guardSession: key,
      // The chat's own box, files and memory, the same across its sessions and restarts of serve.
      ...isolatedSession(agent.config, key),
      ...(toolCallInspector ? { toolCallInspector } : {}),
      ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
    });
    try {
      // Every model call of the turn (steps, subagents, plans, compaction) is checked against
      // `localOnly` in the session, which also keeps it for the chat's later turns.
      const result = await held.session.send(text, { localOnly, signal });
      if (result.stopReason === "cancelled") signal?.throwIfAborted();
      if (result.stopReason === "error") {
        throw new Error(`agent ${agentName}: ${result.error ?? "the turn failed"}`);
      }
      return result.text;
    } finally {
      held.release();
    }
  };
}

/**
 * {@linkcode agentChannelResponder} for WebChat's socket: the reply comes as one piece, the
 * final answer, since the session sanitizes it whole and intermediate steps' text may hold
 * values the answer leaves out. An aborted `signal` cancels the turn as the plain responder's
 * does.
 *
 * @example
 * ```ts ignore
 * for await (const piece of agentChannelStreamingResponder(pool, "default")(input)) send(piece);
 * ```
 */
export function agentChannelStreamingResponder(
  pool: AgentPool,
  agentName: string,
  options: ChannelResponderOptions = {},
): ChannelStreamingResponder {
  const respond = agentChannelResponder(pool, agentName, options);
  return async function* (input) {
    yield await respond(input);
  };
}
