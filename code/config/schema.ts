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
  }).prefault({}),
  box: z.object({
    /** `bwrap` (bubblewrap, read-only host, no network), `process` (plain), or `box` (box's runtime). */
    driver: z.enum(["auto", "bwrap", "process", "box"]).default("auto"),
    network: z.boolean().default(false),
    /** The image of the `box` driver. */
    image: z.string().default("busybox:latest"),
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
  id: string;
  context_window: number;
  max_tokens: number;
  temperature?: number;
}

/** An LLM endpoint. */
export interface ProviderConfig {
  name: string;
  kind: "openai" | "anthropic";
  base_url?: string;
  api_key?: string;
  max_attempts: number;
  retry_delay_ms: number;
  timeout_ms: number;
  models: ModelConfig[];
}

/** Permission rules and presets. */
export interface PermissionsConfig {
  preset: "default" | "permissive" | "strict";
  allow: string[];
  ask: string[];
  deny: string[];
  default?: "allow" | "ask" | "deny";
  approval_timeout_ms: number;
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
  event: HookEventName;
  command: string;
  matcher?: string;
  priority: number;
  timeout_ms: number;
}

/** An MCP server to connect. */
export interface McpServerConfig {
  name: string;
  transport: "stdio" | "http";
  command?: string;
  args: string[];
  env: Record<string, string>;
  url?: string;
  headers: Record<string, string>;
  enabled: boolean;
}

/** A subagent defined in the config. */
export interface SubagentConfig {
  name: string;
  description: string;
  model?: string;
  tools?: string[];
  max_steps: number;
  prompt: string;
  permissions?: Partial<PermissionsConfig>;
}

/** A validated config, defaults applied. */
export interface AgentConfig {
  name: string;
  default_model: string;
  system_prompt?: string;
  max_steps: number;
  workspace: string;
  providers: ProviderConfig[];
  tools: { enabled?: string[]; disabled: string[]; output_limit: number; timeout_ms: number };
  permissions: PermissionsConfig;
  hooks: HookConfig[];
  mcp: McpServerConfig[];
  skills: { dirs: string[]; builtin: boolean };
  memory: { enabled: boolean; project?: string; user: string; embedding_model?: string };
  box: { driver: "auto" | "bwrap" | "process" | "box"; network: boolean; image: string };
  search: { enabled: boolean; engines: string[] };
  safeclaw: {
    enabled: boolean;
    taint: boolean;
    injection: "off" | "warn" | "block";
    allow_tainted_egress: boolean;
  };
  web: { allow_private: boolean; allow_hosts?: string[] };
  agents: SubagentConfig[];
  agent_dirs: string[];
  planning: { enabled: boolean; max_concurrency: number; max_attempts: number };
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
