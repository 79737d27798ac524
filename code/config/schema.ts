/**
 * The agent config: one zod schema is its validation, its type and its defaults. Keys are
 * snake_case, as written in `agent.hcl`. Every field has a default, so an empty file is a
 * working agent on the local power server.
 */
import { z } from "zod";

/** One model a provider serves. */
const ModelSchemaObject = z.object({
  id: z.string().min(1),
  /** Tokens the model can attend to; compaction starts before it fills. */
  context_window: z.number().int().positive().default(8192),
  /** Tokens one reply may take. */
  max_tokens: z.number().int().positive().default(1024),
  temperature: z.number().min(0).max(2).optional(),
});

/** An LLM endpoint. */
const ProviderSchemaObject = z.object({
  name: z.string().min(1),
  /** Wire format: `openai` (power, Ollama, OpenAI...) or `anthropic` (Messages API). */
  kind: z.enum(["openai", "anthropic"]).default("openai"),
  base_url: z.string().url().optional(),
  api_key: z.string().optional(),
  /** Attempts per request, the first included; failures back off exponentially. */
  max_attempts: z.number().int().min(1).max(10).default(3),
  retry_delay_ms: z.number().int().min(0).default(250),
  timeout_ms: z.number().int().positive().default(120_000),
  models: z.array(ModelSchemaObject).default([]),
});

const PermissionAction = z.enum(["allow", "ask", "deny"]);

const PermissionsSchemaObject = z.object({
  /** `permissive` allows everything not denied; `strict` asks for anything that writes or runs. */
  preset: z.enum(["default", "permissive", "strict"]).default("default"),
  allow: z.array(z.string()).default([]),
  ask: z.array(z.string()).default([]),
  deny: z.array(z.string()).default([]),
  /** What a call no rule matches gets. */
  default: PermissionAction.optional(),
  approval_timeout_ms: z.number().int().positive().default(120_000),
  /** What an unanswered approval becomes. */
  timeout_action: z.enum(["allow", "deny"]).default("deny"),
});

const HookSchemaObject = z.object({
  event: z.enum([
    "PreToolUse",
    "PostToolUse",
    "GenerateStart",
    "GenerateEnd",
    "SessionStart",
    "SessionEnd",
    "SkillLoad",
    "SkillUnload",
  ]),
  /** A shell command; the event arrives as JSON on stdin, a decision may come back on stdout. */
  command: z.string().min(1),
  /** A tool-name pattern (`bash`, `mcp__github__*`); hooks without one see every tool. */
  matcher: z.string().optional(),
  /** Lower runs first. */
  priority: z.number().int().default(0),
  timeout_ms: z.number().int().positive().default(10_000),
});

const McpServerSchemaObject = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only"),
  transport: z.enum(["stdio", "http"]).default("stdio"),
  command: z.string().optional(),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  url: z.string().url().optional(),
  headers: z.record(z.string(), z.string()).default({}),
  enabled: z.boolean().default(true),
}).refine((s) => s.transport === "http" ? !!s.url : !!s.command, {
  message: "stdio servers need command, http servers need url",
  path: ["transport"],
});

const SubagentSchemaObject = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "lowercase letters, digits, _ and - only"),
  description: z.string().default(""),
  /** `provider/model`; the parent's model when unset. */
  model: z.string().optional(),
  /** Tool names it may use; every built-in but `task` when unset. */
  tools: z.array(z.string()).optional(),
  max_steps: z.number().int().positive().default(12),
  prompt: z.string().default(""),
  permissions: PermissionsSchemaObject.partial().optional(),
});

const AgentConfigSchemaObject = z.object({
  name: z.string().default("agent"),
  /** `provider/model`. */
  default_model: z.string().default("power/a3s-default"),
  system_prompt: z.string().optional(),
  /** Model calls per turn before the agent stops. */
  max_steps: z.number().int().positive().max(500).default(24),
  /** The folder tools may touch; relative paths resolve against the config file. */
  workspace: z.string().default("."),
  providers: z.array(ProviderSchemaObject).default([]),
  tools: z.object({
    /** Only these (all when unset). */
    enabled: z.array(z.string()).optional(),
    disabled: z.array(z.string()).default([]),
    /** Characters of one tool result kept for the model. */
    output_limit: z.number().int().positive().default(16_000),
    timeout_ms: z.number().int().positive().default(60_000),
    /** Tool calls one session runs at once (a model reply asking for more queues the rest). */
    max_parallel: z.number().int().positive().max(64).default(8),
  }).prefault({}),
  permissions: PermissionsSchemaObject.prefault({}),
  hooks: z.array(HookSchemaObject).default([]),
  mcp: z.array(McpServerSchemaObject).default([]),
  skills: z.object({
    dirs: z.array(z.string()).default([]),
    /** Load the skills shipped with the module. */
    builtin: z.boolean().default(true),
  }).prefault({}),
  memory: z.object({
    enabled: z.boolean().default(true),
    /** The project key memories are filed under; the workspace path when unset. */
    project: z.string().optional(),
    user: z.string().default("default"),
    /** Embedding model on the first provider; keyword search only when unset. */
    embedding_model: z.string().optional(),
    /**
     * What the chats of safeclaw's channels remember: `session` (the default: each chat, keyed
     * `user:channel:chat`, has a memory of its own; no chat recalls or deletes what another
     * saved) or `shared` (every chat reads and writes the agent's one memory, the one HTTP and
     * CLI sessions use, so what one chat user tells the agent any other may be told: only for
     * agents whose chat users all trust each other, such as a team's own bot that should learn
     * from all of them). A chat's own memories stay out of search's local index (a `web_search`
     * on it would reach them from other chats); shared ones are indexed as before. The end users
     * named by `user` on the chat-completions route count as chats here.
     */
    chats: z.enum(["session", "shared"]).default("session"),
  }).prefault({}),
  box: z.object({
    /** `bwrap` (bubblewrap, read-only host, no network), `process` (plain), or `box` (box's runtime). */
    driver: z.enum(["auto", "bwrap", "process", "box"]).default("auto"),
    network: z.boolean().default(false),
    /** The image of the `box` driver. */
    image: z.string().default("busybox:latest"),
    /**
     * Where the sessions of an agent in serve with chat channels work: `session` (each session
     * in its own subfolder `sessions/<session>` of the workspace: the only one its box mounts,
     * the only part of the workspace its bubblewrap commands see, the only one its file tools
     * reach on every driver) or `shared` (every session works in the workspace itself). On the
     * `box` driver each session has its own box either way. The CLI's sessions always work in
     * the workspace itself.
     */
    workspace: z.enum(["session", "shared"]).default("session"),
    /**
     * Disk one session folder may take, in MiB (`workspace = "session"`), measured after each
     * command and file write (more than 200,000 files and folders counts as over too). Over it,
     * the agent is told so, the file tools are refused and commands run unable to grow files,
     * until it deletes files. 0: no quota.
     */
    session_quota_mb: z.number().int().min(0).max(1_048_576).default(1024),
    /**
     * Hours a session folder may sit unused (no command, no open session) before it is removed,
     * checked when the agent starts and hourly; the folder of an open session is never removed.
     * 0: folders are kept.
     */
    session_ttl_hours: z.number().min(0).max(876_000).default(168),
    /**
     * Minutes a kept session in serve (a chat of safeclaw's channels, an end user of the
     * chat-completions route) may go without a turn before it is closed: its box is removed and
     * its folder no longer counts as open, so the `session_ttl_hours` sweep may take it. Its
     * history, memory and files stay, and the chat's next message reopens it on the same
     * conversation. Never while a turn runs. 0: kept open until serve stops.
     */
    session_idle_minutes: z.number().min(0).max(525_600).default(30),
    /** The most boxes the agent runs at once (one per session); the least recently used goes first. */
    max_boxes: z.number().int().positive().max(1024).default(16),
    /** Most processes and threads at once in one box (cgroup `pids.max`). */
    pids: z.number().int().min(16).max(65_536).default(256),
    /** Memory of one box, in MiB (cgroup `memory.max`). */
    memory_mb: z.number().int().min(16).max(1_048_576).default(512),
    /** CPUs one box may use, fractional allowed (cgroup `cpu.max`). */
    cpus: z.number().positive().max(1024).default(1),
    /**
     * Host environment variables the agent's `bwrap` and `process` commands get, by name: they
     * start with a cleared environment (`PATH`, `HOME`, `LANG`, `TZ` and the like only), so an
     * API key in the server's environment is not theirs unless named here.
     */
    pass_env: z.array(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable's name"),
    ).max(256).default([]),
  }).prefault({}),
  search: z.object({
    /** Give `web_search` search's meta search (the CLI and serve wire it up). */
    enabled: z.boolean().default(false),
    /** Engines to ask, such as ["local"] for the offline index; search's defaults when empty. */
    engines: z.array(z.string()).default([]),
  }).prefault({}),
  safeclaw: z.object({
    enabled: z.boolean().default(true),
    /** Mark secrets and PII read by tools, and stop them leaving through web_fetch or output. */
    taint: z.boolean().default(true),
    /** What a prompt-injection attempt in a tool result does. */
    injection: z.enum(["off", "warn", "block"]).default("warn"),
    /** Let tainted values out (`web_fetch`, final output) anyway. */
    allow_tainted_egress: z.boolean().default(false),
    /**
     * Whether the model reads the secrets and personal values a tool printed: masked (`mask`,
     * the default), masked only when the session's model runs off this machine (`mask_remote`),
     * or as printed (`raw`).
     */
    tool_output: z.enum(["mask", "mask_remote", "raw"]).default("mask"),
    /**
     * safeclaw's check of a tool call before it runs (its policy's `toolCalls`): what a call
     * whose arguments carry a tainted value does (`on_tainted`), what a command that reaches a
     * host off `allow_hosts` (curl, wget, nc, ssh, scp, encoded DNS lookups) does
     * (`on_exfiltration`): `block`, or `approve` (asks the session's approver; refused without one).
     */
    tool_calls: z.object({
      on_tainted: z.enum(["block", "approve"]).default("block"),
      on_exfiltration: z.enum(["block", "approve"]).default("block"),
      /** Hosts commands may reach: exact names or `*.example.org`. */
      allow_hosts: z.array(z.string().min(1)).default([]),
    }).prefault({}),
  }).prefault({}),
  web: z.object({
    /** Let web_fetch reach loopback and private addresses (off: no SSRF into the host's network). */
    allow_private: z.boolean().default(false),
    /** Only these hosts, when set (globs such as `*.example.org`). */
    allow_hosts: z.array(z.string()).optional(),
  }).prefault({}),
  agents: z.array(SubagentSchemaObject).default([]),
  agent_dirs: z.array(z.string()).default([]),
  planning: z.object({
    enabled: z.boolean().default(true),
    max_concurrency: z.number().int().positive().default(4),
    max_attempts: z.number().int().min(1).default(2),
  }).prefault({}),
  compaction: z.object({
    /** Fraction of the context window that triggers compaction. */
    threshold: z.number().gt(0).lte(1).default(0.8),
    /** Recent messages kept verbatim. */
    keep_recent: z.number().int().min(1).default(6),
  }).prefault({}),
});

/** One model a provider serves. */
export interface ModelConfig {
  /** The model's id as the provider knows it: the `model` part of `provider/model` refs. */
  id: string;
  /** Tokens the model can attend to; compaction starts before it fills. */
  context_window: number;
  /** Tokens one reply may take. */
  max_tokens: number;
  /** Sampling temperature, 0 to 2; the provider's default when unset. */
  temperature?: number;
}

/** An LLM endpoint. */
export interface ProviderConfig {
  /** The provider's name, the `provider` part of `provider/model` refs. */
  name: string;
  /** Wire format: `openai` (power, Ollama, OpenAI...) or `anthropic` (Messages API). */
  kind: "openai" | "anthropic";
  /** The endpoint's base URL; the local power server (`openai`) or api.anthropic.com (`anthropic`) when unset. */
  base_url?: string;
  /** The API key sent with each request, if the endpoint needs one. */
  api_key?: string;
  /** Attempts per request, the first included; failures back off exponentially. */
  max_attempts: number;
  /** Base delay before a retry, in milliseconds; the backoff grows from it. */
  retry_delay_ms: number;
  /** How long one request may take before it is aborted, in milliseconds. */
  timeout_ms: number;
  /** The models this provider serves. */
  models: ModelConfig[];
}

/** Permission rules and presets. */
export interface PermissionsConfig {
  /** `permissive` allows everything not denied; `strict` asks for anything that writes or runs. */
  preset: "default" | "permissive" | "strict";
  /** Rules (`tool` or `tool(subject glob)`) allowed without asking; checked after `deny`. */
  allow: string[];
  /** Rules that need an approver's yes before the call runs. */
  ask: string[];
  /** Rules that are always refused; checked first, so they win over `allow` and `ask`. */
  deny: string[];
  /** What a call no rule matches gets; the preset decides when unset. */
  default?: "allow" | "ask" | "deny";
  /** How long to wait for an approval, in milliseconds. */
  approval_timeout_ms: number;
  /** What an unanswered approval becomes. */
  timeout_action: "allow" | "deny";
}

/** The eight hook events. */
export type HookEventName =
  | "PreToolUse"
  | "PostToolUse"
  | "GenerateStart"
  | "GenerateEnd"
  | "SessionStart"
  | "SessionEnd"
  | "SkillLoad"
  | "SkillUnload";

/** A shell hook. */
export interface HookConfig {
  /** The event the hook runs on. */
  event: HookEventName;
  /** A shell command; the event arrives as JSON on stdin, a decision may come back on stdout. */
  command: string;
  /** A tool-name pattern (`bash`, `mcp__github__*`); hooks without one see every tool. */
  matcher?: string;
  /** Order among hooks of one event; lower runs first. */
  priority: number;
  /** How long the command may run, in milliseconds. */
  timeout_ms: number;
}

/** An MCP server to connect. */
export interface McpServerConfig {
  /** The server's name; its tools are exposed as `mcp__<name>__<tool>`. */
  name: string;
  /** `stdio` spawns `command`; `http` connects to `url`. */
  transport: "stdio" | "http";
  /** The program a stdio server runs as. */
  command?: string;
  /** Arguments passed to `command`. */
  args: string[];
  /** Extra environment variables for a stdio server. */
  env: Record<string, string>;
  /** The endpoint of an http server. */
  url?: string;
  /** Extra request headers for an http server (such as authorization). */
  headers: Record<string, string>;
  /** Set false to keep the server configured but not connected. */
  enabled: boolean;
}

/** A subagent defined in the config. */
export interface SubagentConfig {
  /** The name the `task` tool picks the subagent by. */
  name: string;
  /** What the subagent is for; shown to the model choosing one. */
  description: string;
  /** `provider/model`; the parent's model when unset. */
  model?: string;
  /** Tool names it may use; every built-in but `task` when unset. */
  tools?: string[];
  /** Model calls per task before the subagent stops. */
  max_steps: number;
  /** The subagent's system prompt. */
  prompt: string;
  /** Overrides on the agent's permissions while this subagent runs. */
  permissions?: Partial<PermissionsConfig>;
}

/** A validated config, defaults applied. */
export interface AgentConfig {
  /** The agent's name, used in session records and logs. */
  name: string;
  /** The model used when a session names none, as `provider/model`. */
  default_model: string;
  /** The agent's own instructions, in place of the default opening of the system prompt. */
  system_prompt?: string;
  /** Model calls per turn before the agent stops. */
  max_steps: number;
  /** The folder tools may touch; relative paths resolve against the config file. */
  workspace: string;
  /** The LLM endpoints models are resolved against. */
  providers: ProviderConfig[];
  /** Which built-in tools are on (`enabled` only these, minus `disabled`), how much of a result the model sees (`output_limit`, characters), how long one call may run (`timeout_ms`) and how many run at once in a session (`max_parallel`). */
  tools: {
    enabled?: string[];
    disabled: string[];
    output_limit: number;
    timeout_ms: number;
    max_parallel: number;
  };
  /** Which tool calls are allowed, asked about or denied. */
  permissions: PermissionsConfig;
  /** Shell hooks run on tool, generation, session and skill events. */
  hooks: HookConfig[];
  /** MCP servers whose tools the agent gets. */
  mcp: McpServerConfig[];
  /** Extra skill folders (`dirs`) and whether the built-in skills load (`builtin`). */
  skills: { dirs: string[]; builtin: boolean };
  /** Long-term memory: on or off, the project and user keys memories are filed under, the embedding model (keyword search only when unset), and whether each chat of a channel has its own (`chats = "session"`) or all share the agent's (`shared`). */
  memory: {
    enabled: boolean;
    project?: string;
    user: string;
    embedding_model?: string;
    chats: "session" | "shared";
  };
  /**
   * Where commands run: `bwrap` (bubblewrap, read-only host), `process` (plain), `box` (box's
   * runtime, `image`) or `auto`; `network` lets them reach it. In serve with chat channels each
   * session works in its own subfolder of the workspace (`workspace = "session"`) or the
   * workspace itself (`shared`); a session folder holds at most `session_quota_mb` and is
   * removed once unused for `session_ttl_hours`; a chat's session closes once idle for
   * `session_idle_minutes`. A `box` agent there gives each session its own
   * box (at most `max_boxes`, least recently used removed first), under `pids`, `memory_mb` and
   * `cpus` limits. `pass_env` names the host environment variables commands get.
   */
  box: {
    driver: "auto" | "bwrap" | "process" | "box";
    network: boolean;
    image: string;
    workspace: "session" | "shared";
    session_quota_mb: number;
    session_ttl_hours: number;
    session_idle_minutes: number;
    max_boxes: number;
    pids: number;
    memory_mb: number;
    cpus: number;
    pass_env: string[];
  };
  /** `web_search` through search's meta search (`enabled`), and the engines to ask (search's defaults when empty). */
  search: { enabled: boolean; engines: string[] };
  /** safeclaw's guard: taint tracking of secrets and PII, what a prompt injection in a tool result does (`off`, `warn`, `block`), whether tainted values may leave anyway, and whether the model reads the secrets a tool printed (`mask`, `mask_remote`, `raw`). */
  safeclaw: {
    enabled: boolean;
    taint: boolean;
    injection: "off" | "warn" | "block";
    allow_tainted_egress: boolean;
    tool_output: "mask" | "mask_remote" | "raw";
    /** What a tool call safeclaw flags does: tainted arguments (`on_tainted`), commands reaching hosts off `allow_hosts` (`on_exfiltration`): `block` or `approve`. */
    tool_calls: {
      on_tainted: "block" | "approve";
      on_exfiltration: "block" | "approve";
      allow_hosts: string[];
    };
  };
  /** What web_fetch may reach: loopback and private addresses (`allow_private`) and, when set, only these hosts (`allow_hosts`, globs). */
  web: { allow_private: boolean; allow_hosts?: string[] };
  /** Subagents defined inline, in addition to the built-in ones. */
  agents: SubagentConfig[];
  /** Folders of subagent definition files (Markdown with front matter). */
  agent_dirs: string[];
  /** Parallel plans: on or off, how many steps run at once and how many tries a failing step gets. */
  planning: { enabled: boolean; max_concurrency: number; max_attempts: number };
  /** History compaction: the fraction of the context window that triggers it (`threshold`) and the recent messages kept verbatim (`keep_recent`). */
  compaction: { threshold: number; keep_recent: number };
}

/** Every field optional, at every depth: what a config may leave out. */
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[]
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** A config as written, before defaults. */
export type AgentConfigInput = DeepPartial<AgentConfig>;

/** Validates an agent config and applies its defaults. */
export const AgentConfigSchema: z.ZodType<AgentConfig> = AgentConfigSchemaObject;
/** Validates a subagent definition. */
export const SubagentSchema: z.ZodType<SubagentConfig> = SubagentSchemaObject;
/** Validates a permissions section. */
export const PermissionsSchema: z.ZodType<PermissionsConfig> = PermissionsSchemaObject;

/** Blocks that may repeat in `agent.hcl`; each becomes a list. */
export const REPEATED_BLOCKS: ReadonlySet<string> = new Set([
  "providers",
  "models",
  "hooks",
  "mcp",
  "agents",
]);
