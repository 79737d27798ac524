/** What a session needs from its agent: resolved once per agent, shared by its sessions. */
import type { AgentConfig, ModelConfig } from "../config/schema.ts";
import type { LlmProvider } from "../llm/types.ts";
import type { CommandSandbox } from "../runtime/sandbox.ts";
import type { Workspace } from "../runtime/workspace.ts";
import type { HookRunner } from "../policy/hooks.ts";
import type { Approver, PermissionPolicy } from "../policy/permissions.ts";
import type { TextClassifier } from "../policy/guard.ts";
import type { ToolOutputInspector } from "../policy/tool_output.ts";
import type { ToolCallInspector } from "../policy/tool_calls.ts";
import type { HistoryStore } from "../state/history.ts";
import type { SkillRegistry } from "../skills/skills.ts";
import type { MemoryAccess, SearchFunction } from "../tools/services.ts";
import type { Tool } from "../tools/tool.ts";
import type { RetryRunner } from "../llm/types.ts";
import type { SubagentDefinition } from "./subagents.ts";
import type { AuditLog } from "../state/audit.ts";

/** A model reference resolved to its provider. */
export interface ResolvedModel {
  /** The provider that serves the model. */
  provider: LlmProvider;
  /** The id sent to the provider. */
  model: string;
  /** The model's config: context window, reply tokens, temperature. */
  config: ModelConfig;
}

/** The agent's shared machinery. */
export interface AgentRuntime {
  /** The agent's name. */
  readonly name: string;
  /** The validated config the agent was built from. */
  readonly config: AgentConfig;
  /** The folder tools are confined to. */
  readonly workspace: Workspace;
  /** Where commands (`bash`) run. */
  readonly sandbox: CommandSandbox;
  /** Every tool the agent has, by name. */
  readonly tools: ReadonlyMap<string, Tool>;
  /** The agent's permission rules; sessions may narrow them. */
  readonly policy: PermissionPolicy;
  /** The hooks run on tool, generation, session and skill events. */
  readonly hooks: HookRunner;
  /** The skills sessions can load. */
  readonly skills: SkillRegistry;
  /** Long-term memory, when enabled. */
  readonly memory?: MemoryAccess;
  /**
   * False when memory sends what it saves and searches to an embedding model that may run off
   * this machine: a local-only session then uses memory by keywords only.
   */
  readonly embeddingsLocal?: boolean;
  /** What `web_search` asks, when search is wired up. */
  readonly search?: SearchFunction;
  /** Where sessions' messages are kept, for resume and listing. */
  readonly history: HistoryStore;
  /** Answers `ask` permission decisions; without one, the configured timeout action applies. */
  readonly approver?: Approver;
  /** Replaces safeclaw's classifier in the guard (secret and PII labels), when set. */
  readonly classifier?: TextClassifier;
  /** Checks tool output before the model reads it (safeclaw's `Guard` in serve), in place of the in-process check. */
  readonly toolOutputInspector?: ToolOutputInspector;
  /** Checks tool calls before they run (safeclaw's `Guard` in serve), after the in-process check. */
  readonly toolCallInspector?: ToolCallInspector;
  /** The subagents the `task` tool can start, by name. */
  readonly subagents: ReadonlyMap<string, SubagentDefinition>;
  /** Runs provider calls with retries. */
  readonly retry: RetryRunner;
  /** Where tool calls are audited durably (the shared store), when there is one. */
  readonly auditLog?: AuditLog;
  /** Tool calls one session (with its subagents) runs at once; 8 when unset. */
  readonly maxParallelTools?: number;
  /** Resolves a `provider/model` ref (the default model when omitted) to its provider and config. */
  resolveModel(ref?: string): ResolvedModel;
  /** Fetches a URL a tool chose, through the shared access policy. */
  fetchUrl(url: URL, signal: AbortSignal): Promise<Response>;
}
