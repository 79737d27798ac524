/**
 * The agent config: one zod schema is its validation, its type and its defaults. Keys are
 * snake_case, as written in `agent.hcl`. Every field has a default, so an empty file is a
 * working agent on the local power server.
 */
import { z } from "zod";

/** One model a provider serves. */
export const ModelSchema = z.object({
  id: z.string().min(1),
  /** Tokens the model can attend to; compaction starts before it fills. */
  context_window: z.number().int().positive().default(8192),
  /** Tokens one reply may take. */
  max_tokens: z.number().int().positive().default(1024),
  temperature: z.number().min(0).max(2).optional(),
});

/** An LLM endpoint. */
export const ProviderSchema = z.object({
  name: z.string().min(1),
  /** Wire format: `openai` (power, Ollama, OpenAI...) or `anthropic` (Messages API). */
  kind: z.enum(["openai", "anthropic"]).default("openai"),
  base_url: z.string().url().optional(),
  api_key: z.string().optional(),
  /** Attempts per request, the first included; failures back off exponentially. */
  max_attempts: z.number().int().min(1).max(10).default(3),
  retry_delay_ms: z.number().int().min(0).default(250),
  timeout_ms: z.number().int().positive().default(120_000),
  models: z.array(ModelSchema).default([]),
});

const PermissionAction = z.enum(["allow", "ask", "deny"]);

export const PermissionsSchema = z.object({
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

export const HookSchema = z.object({
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

export const McpServerSchema = z.object({
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

export const SubagentSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "lowercase letters, digits, _ and - only"),
  description: z.string().default(""),
  /** `provider/model`; the parent's model when unset. */
  model: z.string().optional(),
  /** Tool names it may use; every built-in but `task` when unset. */
  tools: z.array(z.string()).optional(),
  max_steps: z.number().int().positive().default(12),
  prompt: z.string().default(""),
  permissions: PermissionsSchema.partial().optional(),
});

export const AgentConfigSchema = z.object({
  name: z.string().default("agent"),
  /** `provider/model`. */
  default_model: z.string().default("power/a3s-default"),
  system_prompt: z.string().optional(),
  /** Model calls per turn before the agent stops. */
  max_steps: z.number().int().positive().max(500).default(24),
  /** The folder tools may touch; relative paths resolve against the config file. */
  workspace: z.string().default("."),
  providers: z.array(ProviderSchema).default([]),
  tools: z.object({
    /** Only these (all when unset). */
    enabled: z.array(z.string()).optional(),
    disabled: z.array(z.string()).default([]),
    /** Characters of one tool result kept for the model. */
    output_limit: z.number().int().positive().default(16_000),
    timeout_ms: z.number().int().positive().default(60_000),
  }).prefault({}),
  permissions: PermissionsSchema.prefault({}),
  hooks: z.array(HookSchema).default([]),
  mcp: z.array(McpServerSchema).default([]),
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
  agents: z.array(SubagentSchema).default([]),
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

/** A validated config, defaults applied. */
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
/** A config as written, before defaults. */
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type ProviderConfig = z.infer<typeof ProviderSchema>;
export type ModelConfig = z.infer<typeof ModelSchema>;
export type PermissionsConfig = z.infer<typeof PermissionsSchema>;
export type HookConfig = z.infer<typeof HookSchema>;
export type McpServerConfig = z.infer<typeof McpServerSchema>;
export type SubagentConfig = z.infer<typeof SubagentSchema>;

/** Blocks that may repeat in `agent.hcl`; each becomes a list. */
export const REPEATED_BLOCKS: ReadonlySet<string> = new Set([
  "providers",
  "models",
  "hooks",
  "mcp",
  "agents",
]);
