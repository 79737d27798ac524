/**
 * code's HTTP API in serve: sessions of named agents, their turns as an SSE stream of typed
 * events, history, cancellation, and answers to `ask` approvals.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import {
  type A3sModule,
  createRouter,
  defineModule,
  NotFoundError,
  type Store,
  ValidationError,
} from "@a3s/common";
import { A3sError } from "@a3s/common/errors";
import { isAbsolute, resolve } from "node:path";
import { Agent, type AgentOptions } from "./agent/agent.ts";
import type { AgentSession, SessionOptions } from "./agent/session.ts";
import type { TurnResult } from "./agent/events.ts";
import type { ApprovalRequest, Approver } from "./policy/permissions.ts";
import { loadAgentConfig, validateConfig } from "./config/load.ts";
import { type PowerChat, PowerProvider } from "./providers/power.ts";
import type { AgentConfig } from "./config/schema.ts";
import type { CommandSandbox } from "./runtime/sandbox.ts";
import type { BoxManager } from "@a3s/box";
import { LOCAL_ONLY_HEADER, type SafeclawApi } from "@a3s/safeclaw";
import type { SearchService } from "@a3s/search";
import { BoxAgentSandboxes, warnWithoutBoxDriver } from "./box_agents.ts";
import { agentChannelResponder } from "./channel_responder.ts";
import { type HeldSession, KeptSessions } from "./kept_sessions.ts";
import { endUserKey, isolatedSession, keyedSessionId } from "./session_isolation.ts";
import { safeclawToolOutputs } from "./policy/tool_output.ts";
import { safeclawToolCalls } from "./policy/tool_calls.ts";

/** The `code` section of the a3s config file. */
export interface CodeModuleConfig {
  agents: Record<string, string>;
  default_agent: string;
  default_workspace: string;
}

const CodeModuleConfigObject = z.object({
  /** Named agents: name → path of its `agent.hcl`. */
  agents: z.record(z.string(), z.string()).default({}),
  /** The agent sessions use when none is named; a built-in agent on power when not in `agents`. */
  default_agent: z.string().default("default"),
  /** Folder the built-in default agent works in (relative to the data dir). */
  default_workspace: z.string().default("workspace"),
});
/** Validates the `code` section. */
export const CodeModuleConfigSchema: z.ZodType<CodeModuleConfig, Partial<CodeModuleConfig>> =
  CodeModuleConfigObject;

const ErrorSchema = z.object({ title: z.string().optional(), detail: z.string().optional() })
  .passthrough();

const SessionCreateSchema = z.object({
  agent: z.string().optional().openapi({
    description: "A configured agent name; the default agent when unset",
  }),
  model: z.string().optional().openapi({
    description: "`provider/model`, overriding the agent's default",
  }),
  resume: z.string().optional().openapi({ description: "Reopen this stored session id" }),
}).openapi("CodeSessionCreate");

const SessionSchema = z.object({
  id: z.string(),
  agent: z.string(),
  model: z.string(),
  tools: z.array(z.string()),
}).openapi("CodeSession");

const MessageSchema = z.object({ prompt: z.string().min(1) }).openapi("CodeMessage");

const HistorySchema = z.object({
  id: z.string(),
  busy: z.boolean(),
  messages: z.array(z.record(z.string(), z.unknown())),
  todos: z.array(z.record(z.string(), z.unknown())),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
}).openapi("CodeHistory");

const ApprovalSchema = z.object({ allow: z.boolean() }).openapi("CodeApproval");

const ChatCompletionSchema = z.object({
  model: z.string().min(1).openapi({ description: "The agent's name, or `default`" }),
  messages: z.array(z.object({ role: z.string(), content: z.string() }).passthrough()).min(1),
  stream: z.boolean().default(false),
  user: z.string().optional().openapi({
    description:
      "Keeps one agent session per end user, with a memory and workspace folder (a box, on the box driver) of their own; it closes once idle and reopens on the same conversation",
  }),
}).passthrough().openapi("CodeChatCompletion");
const IdParams = z.object({ id: z.string().min(1) });
const ApprovalParams = z.object({ id: z.string().min(1), callId: z.string().min(1) });

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const problem = (description: string) => ({
  content: { "application/problem+json": { schema: ErrorSchema } },
  description,
});

/** One live session and the approvals it waits on. */
export interface LiveSession {
  agentName: string;
  session: AgentSession;
  pending: Map<string, (allow: boolean) => void>;
}

/** How {@linkcode AgentPool.hold} opens a kept session: its options, and its idle time in place of the agent's. */
export type HoldOptions = Omit<SessionOptions, "id" | "messages"> & {
  /** Milliseconds without a turn before it closes; the agent's `box.session_idle_minutes` when unset. */
  idleMs?: number;
};

/** A session's `ask` approvals, each waiting for its answer at the approvals endpoint. */
function endpointApprovals(): { approver: Approver; pending: LiveSession["pending"] } {
  const pending: LiveSession["pending"] = new Map();
  const approver = (req: ApprovalRequest, signal: AbortSignal) =>
    new Promise<boolean>((resolveAnswer) => {
      pending.set(req.callId, resolveAnswer);
      signal.addEventListener("abort", () => pending.delete(req.callId), { once: true });
    });
  return { approver, pending };
}

/** Agents by name, built on first use and shared by their sessions. */
export class AgentPool {
  readonly #agents = new Map<string, Promise<Agent>>();
  readonly sessions: Map<string, LiveSession> = new Map();
  /** The sessions of chats and of the chat-completions route's end users, closed once idle. */
  readonly #kept = new KeptSessions<AgentSession>({
    close: (session) => this.closeSession(session.id).then(() => {}),
    isOpen: (session) => this.sessions.get(session.id)?.session === session,
  });

  constructor(
    private readonly config: CodeModuleConfig,
    private readonly options: {
      home: string;
      store?: Store;
      powerUrl: string;
      agentOptions?: AgentOptions;
      /** The sandbox of a configured agent (box's runtime for `box.driver = "box"`). */
      sandboxFor?: (config: AgentConfig, baseDir: string) => Promise<CommandSandbox | undefined>;
    },
  ) {}

  /** The agent named `name` (the default agent when unset), built on first use. */
  agent(name: string = this.config.default_agent): Promise<Agent> {
    let agent = this.#agents.get(name);
    if (!agent) {
      const path = this.config.agents[name];
      if (!path && name !== this.config.default_agent) {
        throw new NotFoundError(
          `no agent '${name}'; configured: ${Object.keys(this.config.agents).join(", ") || "none"}`,
          "agent",
        );
      }
      const common = { store: this.options.store, ...this.options.agentOptions };
      agent = path
        ? loadAgentConfig(isAbsolute(path) ? path : resolve(this.options.home, path)).then(async (
          loaded,
        ) =>
          Agent.fromConfig(loaded.config, {
            baseDir: loaded.baseDir,
            ...common,
            sandbox: await this.options.sandboxFor?.(loaded.config, loaded.baseDir) ??
              common.sandbox,
          })
        )
        : (async () => {
          const config = validateConfig({
            name,
            workspace: resolve(this.options.home, this.config.default_workspace),
            default_model: "power/a3s-default",
            providers: [{
              name: "power",
              base_url: this.options.powerUrl,
              models: [{
                id: "a3s-default",
                context_window: 2048,
                max_tokens: 128,
                temperature: 0,
              }],
            }],
            // The default model has a 2,048-token window and was trained on exactly this agent:
            // windows up to 2,048 get the short system prompt and compact schemas of these three
            // tools (agent/prompt.ts, agent/session.ts), the profile in its training dialogues.
            tools: { enabled: ["read", "write", "bash"] },
            // Where box's runtime is wired (serve with channels), the built-in agent's commands
            // run in a box too, so a fresh machine's chat agent is sandboxed with no config.
            box: { driver: this.options.sandboxFor ? "box" : "auto" },
          });
          const sandbox = await this.options.sandboxFor?.(config, this.options.home);
          return await Agent.fromConfig(config, { ...common, sandbox: sandbox ?? common.sandbox });
        })();
      agent.catch(() => this.#agents.delete(name));
      this.#agents.set(name, agent);
    }
    return agent;
  }

  /** Opens (or resumes) a session whose `ask` approvals wait for the approvals endpoint. */
  async open(
    agentName: string | undefined,
    model: string | undefined,
    resume: string | undefined,
  ): Promise<LiveSession> {
    const name = agentName ?? this.config.default_agent;
    const agent = await this.agent(name);
    const { approver, pending } = endpointApprovals();
    const session = resume
      ? await agent.resume(resume, { model, approver })
      : agent.session({ model, approver });
    if (!session) throw new NotFoundError(`no stored session '${resume}'`, "resume");
    const live = { agentName: name, session, pending };
    this.sessions.set(session.id, live);
    return live;
  }

  /**
   * Holds the session kept for `key` (a chat, an end user) on agent `agentName` for one turn;
   * `release` it when the turn is over. It opens with `options` when none is open, and after it
   * was closed idle, or serve restarted, reopens on the same id (the key's own,
   * {@linkcode keyedSessionId}), so the key's conversation goes on where it stopped.
   * It closes (its box removed, its folder left to the sweep) once no turn has held it for the
   * agent's `box.session_idle_minutes`, never under a turn. Its `ask` approvals wait for the
   * approvals endpoint unless `options` has an approver.
   */
  async hold(
    agentName: string | undefined,
    key: string,
    options: HoldOptions = {},
  ): Promise<HeldSession<AgentSession>> {
    const name = agentName ?? this.config.default_agent;
    const agent = await this.agent(name);
    const { idleMs, ...sessionOptions } = options;
    return await this.#kept.hold(
      JSON.stringify([name, key]),
      idleMs ?? agent.config.box.session_idle_minutes * 60_000,
      async (remembered) => {
        // The key's conversation: the one this process last held, else the key's own id, which
        // a restart keeps. Not while that session is open over HTTP (it has other options; two
        // live sessions must not write one history): a new one then.
        const id = remembered ?? await keyedSessionId(name, key);
        const free = !agent.liveSession(id);
        const messages = free ? await agent.history.load(id) : undefined;
        const approvals = endpointApprovals();
        const session = agent.session({
          approver: approvals.approver,
          ...sessionOptions,
          ...(free ? { id, ...(messages ? { messages } : {}) } : {}),
        });
        this.sessions.set(session.id, { agentName: name, session, pending: approvals.pending });
        return session;
      },
    );
  }

  get(id: string): LiveSession {
    const live = this.sessions.get(id);
    if (!live) throw new NotFoundError(`no live session '${id}'`, "id");
    return live;
  }

  /**
   * Closes live session `id`: cancels its turn, refuses the approvals it waits on and removes its
   * box (where it has one of its own); its history stays stored, to resume. Returns whether a
   * turn was cancelled.
   */
  async closeSession(id: string): Promise<boolean> {
    const live = this.get(id);
    const cancelled = live.session.cancel();
    for (const answer of live.pending.values()) answer(false);
    this.sessions.delete(id);
    // The agent forgets it too, so a resume reads the stored history rather than this session.
    await this.#agents.get(live.agentName)?.then((agent) => agent.dropSession(id));
    await live.session.close();
    return cancelled;
  }

  async close(): Promise<void> {
    await this.#kept.close();
    for (const live of this.sessions.values()) live.session.cancel();
    for (const agent of this.#agents.values()) await agent.then((a) => a.close()).catch(() => {});
  }
}

/** The routes over an {@linkcode AgentPool}. */
export function createCodeRoutes(pool: AgentPool, shutdown?: AbortSignal): OpenAPIHono {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/code/v1/sessions",
      summary: "Open a session of a named agent (or resume a stored one)",
      request: {
        body: { content: { "application/json": { schema: SessionCreateSchema } }, required: false },
      },
      responses: {
        201: json(SessionSchema, "The session"),
        404: problem("No such agent or stored session"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const live = await pool.open(body.agent, body.model, body.resume);
      return c.json({
        id: live.session.id,
        agent: live.agentName,
        model: live.session.model.model,
        tools: live.session.toolSpecs.map((t) => t.name),
      }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/code/v1/sessions/{id}/messages",
      summary:
        "Run a turn; the response is an SSE stream of the session's typed events, ending with `done`",
      request: {
        params: IdParams,
        body: { content: { "application/json": { schema: MessageSchema } }, required: true },
      },
      responses: {
        200: {
          content: { "text/event-stream": { schema: z.string() } },
          description: "Events, one per SSE message, named by type",
        },
        404: problem("No such session"),
        409: problem("The session is busy with another turn"),
      },
    }),
    (c) => {
      const { id } = c.req.valid("param");
      const { prompt } = c.req.valid("json");
      const live = pool.get(id);
      if (live.session.busy) {
        throw new A3sError("session_busy", `session ${id} is busy with another turn`, {
          status: 409,
          field: "id",
        });
      }
      return streamSSE(c, async (stream) => {
        const stop = () => void live.session.cancel();
        shutdown?.addEventListener("abort", stop, { once: true });
        stream.onAbort(stop);
        try {
          for await (const event of live.session.stream(prompt)) {
            await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          }
        } finally {
          shutdown?.removeEventListener("abort", stop);
        }
      });
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/code/v1/sessions/{id}",
      summary: "A session's history, todos and usage",
      request: { params: IdParams },
      responses: { 200: json(HistorySchema, "History"), 404: problem("No such session") },
    }),
    (c) => {
      const { id } = c.req.valid("param");
      const { session } = pool.get(id);
      return c.json({
        id,
        busy: session.busy,
        messages: session.history.map((m) => ({ ...m })),
        todos: session.todos.map((t) => ({ ...t })),
        usage: session.usage,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/code/v1/sessions/{id}",
      summary: "Cancel the running turn and close the session (its history stays stored)",
      request: { params: IdParams },
      responses: {
        200: json(z.object({ id: z.string(), cancelled: z.boolean() }), "Closed"),
        404: problem("No such session"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const cancelled = await pool.closeSession(id);
      return c.json({ id, cancelled }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/code/v1/sessions/{id}/approvals/{callId}",
      summary: "Answer an `approval_request` event",
      request: {
        params: ApprovalParams,
        body: { content: { "application/json": { schema: ApprovalSchema } }, required: true },
      },
      responses: {
        200: json(z.object({ callId: z.string(), allow: z.boolean() }), "Answered"),
        404: problem("No pending approval"),
      },
    }),
    (c) => {
      const { id, callId } = c.req.valid("param");
      const { allow } = c.req.valid("json");
      const live = pool.get(id);
      const answer = live.pending.get(callId);
      if (!answer) {
        throw new NotFoundError(`no pending approval '${callId}' in session ${id}`, "callId");
      }
      live.pending.delete(callId);
      answer(allow);
      return c.json({ callId, allow }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/code/v1/chat/completions",
      summary:
        "OpenAI-compatible chat with an agent (`model` names the agent): channels and OpenAI clients get the full agent loop",
      request: {
        headers: z.object({
          [LOCAL_ONLY_HEADER]: z.enum(["true", "false"]).optional().openapi({
            description:
              "`true`: the conversation's data may only go to models on this machine (safeclaw sends it for a local-only chat); every model call of the turn is then checked",
          }),
        }),
        body: { content: { "application/json": { schema: ChatCompletionSchema } }, required: true },
      },
      responses: {
        200: {
          content: {
            "application/json": { schema: z.record(z.string(), z.unknown()) },
            "text/event-stream": { schema: z.string() },
          },
          description: "A chat.completion, or chat.completion.chunk events when `stream` is true",
        },
        404: problem("No such agent"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      // Only ever a restriction, so any caller may ask for it.
      const turn = { localOnly: c.req.valid("header")[LOCAL_ONLY_HEADER] === "true" };
      const prompt = body.messages.findLast((m) => m.role === "user")?.content;
      if (!prompt) throw new ValidationError("messages: needs a user message", "messages");
      const agentName = body.model === "default" ? undefined : body.model;
      // `user` keeps one session per end user, so a channel's conversation has memory; each end
      // user works in a box, folder and memory of their own, as a chat does.
      let held: HeldSession<AgentSession> | undefined;
      if (body.user) {
        const key = endUserKey(body.user);
        const agent = await pool.agent(agentName);
        held = await pool.hold(agentName, key, isolatedSession(agent.config, key));
      }
      const session = held?.session ?? (await pool.open(agentName, undefined, undefined)).session;
      // An end user's session stays, to close once idle; a one-off session closes with its turn,
      // and its box (where the agent gives sessions their own) goes with it.
      const turnOver = async () => {
        if (held) held.release();
        else if (pool.sessions.has(session.id)) await pool.closeSession(session.id);
      };
      const id = `chatcmpl-${session.id}-${Date.now()}`;
      const created = Math.floor(Date.now() / 1000);
      if (!body.stream) {
        let result: TurnResult;
        try {
          result = await session.send(prompt, turn);
        } finally {
          await turnOver();
        }
        return c.json({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [{
            index: 0,
            // A turn policy stopped says why, rather than answering with nothing.
            message: { role: "assistant", content: result.text || (result.error ?? "") },
            finish_reason: result.stopReason === "max_steps" ? "length" : "stop",
          }],
          usage: {
            prompt_tokens: result.usage.inputTokens,
            completion_tokens: result.usage.outputTokens,
            total_tokens: result.usage.inputTokens + result.usage.outputTokens,
          },
        }, 200);
      }
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => void session.cancel());
        const chunk = (delta: Record<string, unknown>, finish: string | null) =>
          stream.writeSSE({
            data: JSON.stringify({
              id,
              object: "chat.completion.chunk",
              created,
              model: body.model,
              choices: [{ index: 0, delta, finish_reason: finish }],
            }),
          });
        try {
          await chunk({ role: "assistant", content: "" }, null);
          // Only the final answer streams: it is sanitized by the guard as a whole, so the text
          // deltas of intermediate steps (which may hold tainted values) are not sent.
          for await (const event of session.stream(prompt, turn)) {
            if (event.type === "done") {
              const text = event.result.text || (event.result.error ?? "");
              if (text) await chunk({ content: text }, null);
              await chunk({}, event.result.stopReason === "max_steps" ? "length" : "stop");
            }
          }
          await stream.writeSSE({ data: "[DONE]" });
        } finally {
          await turnOver();
        }
      });
    },
  );

  return app;
}

/**
 * Loads every agent file `config.agents` names (relative paths against `home`), as a session
 * would on first use; the first that is missing or invalid throws a {@linkcode ValidationError}
 * whose one-line message names its key (`code.agents.<name>`) and its path. An agent other than
 * the default whose file reads an `env("X")` that is unset is only `warn`ed of: it may be meant
 * for a deployment that sets it, and nothing else depends on it (it still fails when used).
 *
 * @example
 * ```ts ignore
 * await checkAgentFiles({ agents: { x: "/nope/agent.hcl" }, default_agent: "x", default_workspace: "ws" }, "/home");
 * // ValidationError: config code.agents.x: no agent file at /nope/agent.hcl
 * ```
 */
export async function checkAgentFiles(
  config: CodeModuleConfig,
  home: string,
  warn: (message: string) => void = () => {},
): Promise<void> {
  for (const [name, path] of Object.entries(config.agents)) {
    const key = `code.agents.${name}`;
    const file = isAbsolute(path) ? path : resolve(home, path);
    const shown = file === path ? path : `${path} (${file})`;
    try {
      await loadAgentConfig(file);
    } catch (error) {
      // No field: serve prints the message as its one line, which names the key already.
      if (await missing(file)) {
        throw new ValidationError(`config ${key}: no agent file at ${shown}`);
      }
      // The loader's message names the file, and the line and key within it.
      const message = `config ${key}: ${(error as Error).message}`;
      if (name !== config.default_agent && UNSET_ENV.test((error as Error).message)) {
        warn(message);
        continue;
      }
      throw new ValidationError(message);
    }
  }
}

/** The agent loader's message for an `env("X")` whose variable is unset. */
const UNSET_ENV = /environment variable \S+ is not set/;

/** Whether nothing is at `path` (a denied or other failing stat is not "missing"). */
async function missing(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
  }
}

/**
 * The code module for serve.
 *
 * @example
 * ```ts ignore
 * import { codeModule } from "@a3s/code/routes";
 * const modules = [codeModule()];
 * ```
 */
export function codeModule(
  agentOptions: AgentOptions & {
    withPower?: boolean;
    /**
     * Answer safeclaw's chat channels with the default agent, run the commands of agents with
     * `box.driver = "box"` in box's runtime, give each session of every agent a folder of its
     * own (`box.workspace = "session"`, under a quota and a time to live), and index the agents'
     * memories in search's local index (needs the safeclaw, box and search modules).
     */
    channels?: boolean;
  } = {},
): A3sModule<CodeModuleConfig, AgentPool> {
  const withPower = agentOptions.withPower ?? true;
  const channels = agentOptions.channels ?? false;
  return defineModule<CodeModuleConfig, AgentPool>({
    name: "code",
    configSchema: CodeModuleConfigSchema,
    // Agents on the local model call power in process; nothing else is required.
    dependsOn: [
      ...(withPower ? ["power"] : []),
      ...(channels ? ["safeclaw", "box", "search"] : []),
    ],
    access: [
      { path: "/code/v1/sessions/:id", methods: ["GET"], scope: "code:read" },
      // Turns run tools (commands, file writes, fetches): never anonymous.
      { path: "/code/v1/*", scope: "code:exec" },
    ],
    async start(ctx) {
      if (!Object.keys(ctx.config.agents).every((name) => /^[A-Za-z0-9_-]+$/.test(name))) {
        throw new ValidationError(
          "code.agents: names are letters, digits, _ and - only",
          "code.agents",
        );
      }
      // Before anything opens: an agent file that cannot be loaded otherwise gave a ready
      // server whose every chat failed with "Please try again".
      await checkAgentFiles(
        ctx.config,
        ctx.server.home ?? Deno.cwd(),
        (message) => ctx.logger.warn(message),
      );
      const host = ctx.server.host === "0.0.0.0" || ctx.server.host === "::"
        ? "127.0.0.1"
        : ctx.server.host;
      const sandboxes = channels
        ? new BoxAgentSandboxes(
          ctx.modules.box as BoxManager,
          (error) =>
            ctx.logger.warn("code: idle session folders were not swept", { error: String(error) }),
          // The store there holds every chat's memories and history.
          ctx.server.home ? [ctx.server.home] : [],
        )
        : undefined;
      // The chat agents' commands run in boxes: an operator should hear at start, not from a
      // user, that none can run here and what to install.
      const driverCheck = channels
        ? warnWithoutBoxDriver(ctx.modules.box as BoxManager, ctx.logger)
        : undefined;
      const safeclaw = channels ? ctx.modules.safeclaw as SafeclawApi : undefined;
      const search = channels ? ctx.modules.search as SearchService : undefined;
      const pool = new AgentPool(ctx.config, {
        home: ctx.server.home ?? Deno.cwd(),
        store: ctx.store,
        sandboxFor: sandboxes
          ? (config, baseDir) => sandboxes.forAgent(config, baseDir)
          : undefined,
        powerUrl: `http://${host.includes(":") ? `[${host}]` : host}:${ctx.server.port}/v1`,
        agentOptions: {
          ...agentOptions,
          // Every session's tool output (HTTP, chat, subagents, plan steps) is checked by
          // safeclaw's guard: audited, and raising the level of the session it belongs to.
          ...(safeclaw ? { toolOutputInspector: safeclawToolOutputs(safeclaw) } : {}),
          // ...and every tool call, before it runs: decided with the taints of the safeclaw
          // session it belongs to, and audited in safeclaw's log when it is held or blocked.
          ...(safeclaw ? { toolCallInspector: safeclawToolCalls(safeclaw) } : {}),
          // What agents remember, search finds offline (its local index follows memory).
          ...(search
            ? {
              memoryIndex: search.memory,
              onMemoryIndexError: (error: unknown, id: string) =>
                ctx.logger.warn("code: a memory was not indexed", {
                  id,
                  error: String(error),
                }),
            }
            : {}),
          providers: {
            ...(withPower ? { power: new PowerProvider(ctx.modules.power as PowerChat) } : {}),
            ...agentOptions.providers,
          },
        },
      });
      // safeclaw hands each checked, lane-queued channel message to the default agent.
      const unregister = safeclaw?.channels.use(
        agentChannelResponder(pool, ctx.config.default_agent, { guard: safeclaw }),
      );
      return {
        routes: createCodeRoutes(pool, ctx.shutdown),
        api: pool,
        async close() {
          unregister?.();
          await driverCheck;
          await pool.close();
          await sandboxes?.close();
        },
      };
    },
  });
}
