/**
 * An agent built from a config: providers, tools (built-in and MCP), permissions, hooks,
 * skills, memory, subagents, sandbox and guard, resolved once and shared by its sessions.
 */
import { isAbsolute, resolve } from "node:path";
import type { Store } from "@a3s/common";
import type { AgentConfig, AgentConfigInput, ModelConfig } from "../config/schema.ts";
import { loadAgentConfig, validateConfig } from "../config/load.ts";
import type { LlmProvider, RetryRunner } from "../llm/types.ts";
import { laneRetryRunner } from "../llm/retry.ts";
import { OpenAiProvider } from "../providers/openai.ts";
import { AnthropicProvider } from "../providers/anthropic.ts";
import { type CommandSandbox, createSandbox } from "../runtime/sandbox.ts";
import { Workspace } from "../runtime/workspace.ts";
import { AccessPolicy, isLoopbackUrl } from "@a3s/common";
import { type HookRegistration, HookRunner, shellHook } from "../policy/hooks.ts";
import { type Approver, PermissionPolicy } from "../policy/permissions.ts";
import type { TextClassifier } from "../policy/guard.ts";
import type { ToolOutputInspector } from "../policy/tool_output.ts";
import type { ToolCallInspector } from "../policy/tool_calls.ts";
import { type HistoryStore, MemoryHistory, StoreHistory } from "../state/history.ts";
import { type EmbedFunction, openAiEmbeddings, StoreMemory } from "../state/memory.ts";
import { IndexedMemory, type MemorySearchIndex } from "../state/indexed_memory.ts";
import { SkillRegistry } from "../skills/skills.ts";
import type { MemoryAccess, SearchFunction } from "../tools/services.ts";
import type { Tool } from "../tools/tool.ts";
import { BUILTIN_TOOL_NAMES, BUILTIN_TOOLS } from "../tools/builtin.ts";
import { connectMcpServer, type McpConnection } from "../mcp/client.ts";
import { AgentSession, type SessionOptions } from "./session.ts";
import type { AgentRuntime, ResolvedModel } from "./runtime.ts";
import { loadSubagents, type SubagentDefinition } from "./subagents.ts";
import { tokenCounter } from "./tokens.ts";
import { type AuditLog, StoreAuditLog } from "../state/audit.ts";
import { A3sError } from "@a3s/common/errors";

/** What a program supplies beyond the config file. */
export interface AgentOptions {
  /** Folder that relative paths in the config resolve against (the config file's folder). */
  baseDir?: string;
  /** The shared store for history and memory; history stays in memory without one. */
  store?: Store;
  /** Providers by name, replacing or adding to the configured ones (tests, custom clients). */
  providers?: Record<string, LlmProvider>;
  /** Answers `ask` permissions (a terminal prompt, an HTTP approval endpoint). */
  approver?: Approver;
  /** The `web_search` backend. */
  search?: SearchFunction;
  /** A command sandbox replacing the configured driver (box's runtime). */
  sandbox?: CommandSandbox;
  /**
   * Host environment variables the configured sandbox's commands get besides the base ones
   * (`PATH`, `HOME`, `LANG`, `LC_*`, `TERM`, `TZ`, `USER`, `LOGNAME`); the server's other
   * variables (its API keys) are never passed.
   */
  passEnv?: string[];
  /** Tool calls one session (with its subagents) runs at once: 8 when unset. */
  maxParallelTools?: number;
  /** A classifier replacing safeclaw's. */
  classifier?: TextClassifier;
  /** Checks tool output before the model reads it, in place of safeclaw's functions in process (serve passes safeclaw's `Guard`, for its audit log and session levels). */
  toolOutputInspector?: ToolOutputInspector;
  /** Checks tool calls before they run, after safeclaw's in-process check (serve passes safeclaw's `Guard`, for the chat's taints and its audit log). */
  toolCallInspector?: ToolCallInspector;
  /** TypeScript hooks, added to the configured shell hooks. */
  hooks?: HookRegistration[];
  /** Extra tools; they may not take a built-in name. */
  tools?: Tool[];
  /** Embeddings for memory search; taken from the first OpenAI-compatible provider when unset. */
  embed?: EmbedFunction;
  /** A search index that follows memory (search's `SearchService.memory`): saves are indexed, deletions removed. */
  memoryIndex?: MemorySearchIndex;
  /** Hears of each memory the index could not take (the memory itself is kept). */
  onMemoryIndexError?: (error: unknown, id: string) => void;
  /** Retries for model calls; a lane-backed runner by default. */
  retry?: RetryRunner;
  /** The shared access policy for `web_fetch`; built from the config's `web` section when unset. */
  accessPolicy?: AccessPolicy;
}

/** Where power listens when no provider is configured. */
export function defaultPowerUrl(): string {
  return Deno.env.get("A3S_POWER_URL") ?? "http://127.0.0.1:11434/v1";
}

/**
 * An agent. Create with {@linkcode Agent.create} (a config file) or {@linkcode Agent.fromConfig}.
 *
 * @example
 * ```ts ignore
 * import { Agent } from "@a3s/code";
 * const agent = await Agent.create("agent.hcl");
 * const session = agent.session();
 * const result = await session.send("What is in this folder?");
 * console.log(result.text);
 * await agent.close();
 * ```
 */
export class Agent implements AgentRuntime {
  /** The agent's name, from the config (`name`). */
  readonly name: string;
  /** The tools sessions may use, by name: the configured built-ins, custom tools from the options, and MCP tools. */
  readonly tools: Map<string, Tool>;
  /** The hooks run on tool, generation, session and skill events; config hooks are registered at creation, more may be added. */
  readonly hooks: HookRunner = new HookRunner();
  /** The durable audit trail, when the agent has a store. */
  auditLog?: AuditLog;
  /**
   * False when memory embeds with a model that may run off this machine (a provider off
   * loopback, or an `embed` function from the options, whose destination is unknown).
   */
  embeddingsLocal = true;
  readonly #providers = new Map<string, LlmProvider>();
  readonly #mcp: McpConnection[] = [];
  readonly #closers: (() => Promise<void>)[] = [];
  readonly #sessions = new Map<string, AgentSession>();
  #policy?: AccessPolicy;
  /** Tool calls one session runs at once, from the options (8 when unset). */
  maxParallelTools?: number;

  private constructor(
    readonly config: AgentConfig,
    readonly workspace: Workspace,
    readonly sandbox: CommandSandbox,
    readonly policy: PermissionPolicy,
    readonly skills: SkillRegistry,
    readonly history: HistoryStore,
    readonly subagents: Map<string, SubagentDefinition>,
    readonly retry: RetryRunner,
    readonly memory?: MemoryAccess,
    readonly search?: SearchFunction,
    readonly approver?: Approver,
    readonly classifier?: TextClassifier,
    readonly toolOutputInspector?: ToolOutputInspector,
    readonly toolCallInspector?: ToolCallInspector,
  ) {
    this.name = config.name;
    this.tools = new Map();
  }

  /** Loads `path` (HCL or JSON) and builds the agent. */
  static async create(path: string, options: AgentOptions = {}): Promise<Agent> {
    const loaded = await loadAgentConfig(path);
    return await Agent.fromConfig(loaded.config, { baseDir: loaded.baseDir, ...options });
  }

  /** Builds an agent from a config object (validated here, defaults applied). */
  static async fromConfig(
    input: AgentConfig | AgentConfigInput,
    options: AgentOptions = {},
  ): Promise<Agent> {
    const config = validateConfig(input);
    const baseDir = options.baseDir ?? Deno.cwd();
    const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
    const workspace = Workspace.open(at(config.workspace));
    // bubblewrap bounds each command as the box driver bounds a box: `box.pids`, `box.memory_mb`.
    const sandbox = options.sandbox ??
      createSandbox(config.box.driver, workspace.root, config.box.network, {
        passEnv: [...config.box.pass_env, ...(options.passEnv ?? [])],
        limits: { pids: config.box.pids, memoryMb: config.box.memory_mb },
      });
    const policy = PermissionPolicy.fromConfig(config.permissions);
    const skills = await SkillRegistry.discover(config.skills.dirs.map(at), config.skills.builtin);
    const history = options.store ? await StoreHistory.open(options.store) : new MemoryHistory();
    const subagents = await loadSubagents(config.agents, config.agent_dirs.map(at));
    let retry = options.retry;
    let closeRetry: (() => Promise<void>) | undefined;
    if (!retry) {
      const runner = laneRetryRunner();
      retry = runner.run;
      closeRetry = runner.close;
    }
    let memory: MemoryAccess | undefined;
    let embeddingsLocal = true;
    if (config.memory.enabled && options.store) {
      const firstOpenAi = config.providers.find((p) => p.kind === "openai");
      const embeddingsUrl = firstOpenAi?.base_url ?? defaultPowerUrl();
      const embed = options.embed ??
        (config.memory.embedding_model
          ? openAiEmbeddings(
            embeddingsUrl,
            config.memory.embedding_model,
            firstOpenAi?.api_key,
          )
          : undefined);
      embeddingsLocal = options.embed
        ? false
        : !config.memory.embedding_model || isLoopbackUrl(embeddingsUrl);
      memory = await StoreMemory.open(options.store, {
        project: config.memory.project ?? workspace.root,
        user: config.memory.user,
      }, embed);
      if (options.memoryIndex) {
        const indexed = new IndexedMemory(memory, options.memoryIndex, options.onMemoryIndexError);
        await indexed.catchUp();
        memory = indexed;
      }
    }
    const agent = new Agent(
      config,
      workspace,
      sandbox,
      policy,
      skills,
      history,
      subagents,
      retry,
      memory,
      options.search,
      options.approver,
      options.classifier,
      options.toolOutputInspector,
      options.toolCallInspector,
    );
    agent.embeddingsLocal = embeddingsLocal;
    agent.maxParallelTools = options.maxParallelTools ?? config.tools.max_parallel;
    if (closeRetry) agent.#closers.push(closeRetry);
    if (options.store) agent.auditLog = await StoreAuditLog.open(options.store);
    agent.#policy = options.accessPolicy ?? new AccessPolicy({
      hosts: config.web.allow_hosts ?? [],
      privateNetworks: config.web.allow_private ? ["*"] : [],
    });
    for (const p of config.providers) {
      agent.#providers.set(
        p.name,
        p.kind === "anthropic"
          ? new AnthropicProvider({
            name: p.name,
            baseUrl: p.base_url,
            apiKey: p.api_key,
            maxAttempts: p.max_attempts,
            retryDelayMs: p.retry_delay_ms,
            timeoutMs: p.timeout_ms,
            retry,
          })
          : new OpenAiProvider({
            name: p.name,
            baseUrl: p.base_url ?? defaultPowerUrl(),
            apiKey: p.api_key,
            maxAttempts: p.max_attempts,
            retryDelayMs: p.retry_delay_ms,
            timeoutMs: p.timeout_ms,
            retry,
          }),
      );
    }
    for (const [name, provider] of Object.entries(options.providers ?? {})) {
      agent.#providers.set(name, provider);
    }
    // Fail at creation, not mid-turn, when the default model cannot resolve.
    agent.resolveModel();
    // Load the wasm token counter now, so the first turn does not pay for it.
    await tokenCounter();

    const enabled = config.tools.enabled ? new Set(config.tools.enabled) : undefined;
    const disabled = new Set(config.tools.disabled);
    const wanted = (name: string) => (!enabled || enabled.has(name)) && !disabled.has(name);
    for (const tool of BUILTIN_TOOLS) if (wanted(tool.name)) agent.tools.set(tool.name, tool);
    if (!memory) agent.tools.delete("memory");
    for (const tool of options.tools ?? []) {
      if (BUILTIN_TOOL_NAMES.has(tool.name) || tool.name.startsWith("mcp__")) {
        throw new A3sError(
          "invalid_tool",
          `custom tool '${tool.name}' may not take a built-in or mcp__ name`,
          { status: 400 },
        );
      }
      agent.tools.set(tool.name, tool);
    }
    for (const h of config.hooks) agent.hooks.register(shellHook(h, workspace.root));
    for (const h of options.hooks ?? []) agent.hooks.register(h);
    try {
      for (const server of config.mcp.filter((s) => s.enabled)) {
        const conn = await connectMcpServer(server, baseDir);
        agent.#mcp.push(conn);
        for (const tool of conn.tools) {
          // Prefixed names cannot equal a built-in; this guards the prefix itself.
          if (BUILTIN_TOOL_NAMES.has(tool.name)) continue;
          if (wanted(tool.name)) agent.tools.set(tool.name, tool);
        }
      }
    } catch (error) {
      await agent.close();
      throw error;
    }
    return agent;
  }

  /** Resolves `provider/model` (the agent's default model when unset). */
  resolveModel(ref?: string): ResolvedModel {
    const full = ref ?? this.config.default_model;
    const slash = full.indexOf("/");
    const providerName = slash < 0
      ? (this.config.providers[0]?.name ?? "power")
      : full.slice(0, slash);
    const model = slash < 0 ? full : full.slice(slash + 1);
    let provider = this.#providers.get(providerName);
    if (!provider && providerName === "power") {
      // power is our own engine: usable with no provider block at all.
      provider = new OpenAiProvider({
        name: "power",
        baseUrl: defaultPowerUrl(),
        retry: this.retry,
      });
      this.#providers.set("power", provider);
    }
    if (!provider) {
      throw new A3sError("invalid_config", `model '${full}': no provider named '${providerName}'`, {
        status: 400,
        field: "default_model",
      });
    }
    const declared = this.config.providers.find((p) => p.name === providerName)?.models.find((m) =>
      m.id === model
    );
    const config: ModelConfig = declared ?? { id: model, context_window: 8192, max_tokens: 1024 };
    return { provider, model, config };
  }

  /** Fetches through common's access policy: checked hosts and addresses, pinned DNS, checked redirects. */
  fetchUrl(url: URL, signal: AbortSignal): Promise<Response> {
    return this.#policy!.fetch(url, {
      signal,
      field: "url",
      headers: { "user-agent": "a3s-code/0.1" },
    });
  }

  /** Opens a session (resuming `options.id` from the store when its history exists, via {@linkcode resume}). */
  session(options: SessionOptions = {}): AgentSession {
    const session = new AgentSession(this, options);
    if (!options.ephemeral) this.#sessions.set(session.id, session);
    return session;
  }

  /** Reopens a stored session by id, or undefined when there is none. */
  async resume(
    id: string,
    options: Omit<SessionOptions, "id" | "messages"> = {},
  ): Promise<AgentSession | undefined> {
    const live = this.#sessions.get(id);
    if (live) return live;
    const messages = await this.history.load(id);
    if (!messages) return undefined;
    return this.session({ ...options, id, messages });
  }

  /** A live session of this agent by id. */
  liveSession(id: string): AgentSession | undefined {
    return this.#sessions.get(id);
  }

  /** Forgets a live session (its history stays in the store). */
  dropSession(id: string): void {
    this.#sessions.delete(id);
  }

  /** The MCP servers connected. */
  get mcpServers(): string[] {
    return this.#mcp.map((m) => m.name);
  }

  /** Closes sessions, MCP connections and the retry lane. */
  async close(): Promise<void> {
    for (const s of this.#sessions.values()) await s.close().catch(() => {});
    this.#sessions.clear();
    for (const m of this.#mcp.splice(0)) await m.close().catch(() => {});
    for (const c of this.#closers.splice(0)) await c().catch(() => {});
  }
}
