/** What a session needs from its agent: resolved once per agent, shared by its sessions. */
import type { AgentConfig, ModelConfig } from "../config/schema.ts";
import type { LlmProvider } from "../llm/types.ts";
import type { CommandSandbox } from "../runtime/sandbox.ts";
import type { Workspace } from "../runtime/workspace.ts";
import type { HookRunner } from "../policy/hooks.ts";
import type { Approver, PermissionPolicy } from "../policy/permissions.ts";
import type { TextClassifier } from "../policy/guard.ts";
import type { HistoryStore } from "../state/history.ts";
import type { SkillRegistry } from "../skills/skills.ts";
import type { MemoryAccess, SearchFunction } from "../tools/services.ts";
import type { Tool } from "../tools/tool.ts";
import type { RetryRunner } from "../llm/types.ts";
import type { SubagentDefinition } from "./subagents.ts";
import type { AuditLog } from "../state/audit.ts";

/** A model reference resolved to its provider. */
export interface ResolvedModel {
  provider: LlmProvider;
  /** The id sent to the provider. */
  model: string;
  config: ModelConfig;
}

/** The agent's shared machinery. */
export interface AgentRuntime {
  readonly name: string;
  readonly config: AgentConfig;
  readonly workspace: Workspace;
  readonly sandbox: CommandSandbox;
  readonly tools: ReadonlyMap<string, Tool>;
  readonly policy: PermissionPolicy;
  readonly hooks: HookRunner;
  readonly skills: SkillRegistry;
  readonly memory?: MemoryAccess;
  readonly search?: SearchFunction;
  readonly history: HistoryStore;
  readonly approver?: Approver;
  readonly classifier?: TextClassifier;
  readonly subagents: ReadonlyMap<string, SubagentDefinition>;
  readonly retry: RetryRunner;
  /** Where tool calls are audited durably (the shared store), when there is one. */
  readonly auditLog?: AuditLog;
  resolveModel(ref?: string): ResolvedModel;
  /** Fetches a URL a tool chose, through the shared access policy. */
  fetchUrl(url: URL, signal: AbortSignal): Promise<Response>;
}
