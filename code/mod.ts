/**
 * `@a3s/code`: the agent framework. Build an agent from `agent.hcl`, open sessions, and stream
 * typed events while it uses tools (confined to a workspace, run in a sandbox, permission-checked,
 * hooked and guarded by safeclaw), skills, memory, MCP servers, subagents and parallel plans.
 *
 * @example
 * ```ts ignore
 * import { Agent } from "@a3s/code";
 * const agent = await Agent.create("agent.hcl");
 * const session = agent.session();
 * for await (const event of session.stream("Summarize README.md into NOTES.md")) {
 *   if (event.type === "text") console.log(event.delta);
 *   if (event.type === "tool_start") console.error(`tool: ${event.tool}`);
 * }
 * await agent.close();
 * ```
 * @module
 */
export { Agent, type AgentOptions, defaultPowerUrl } from "./agent/agent.ts";
export {
  AgentSession,
  type AuditEntry,
  type SessionOptions,
  type TurnOptions,
} from "./agent/session.ts";
export type { AgentEvent, PlanStepView, StopReason, TurnResult } from "./agent/events.ts";
export { type Plan, type PlanOptions, PlanSchema, planWaves, runPlan } from "./agent/planner.ts";
export {
  BUILTIN_SUBAGENTS,
  parseSubagentFile,
  type SubagentDefinition,
} from "./agent/subagents.ts";
export {
  type AgentConfig,
  type AgentConfigInput,
  AgentConfigSchema,
  type HookConfig,
  type McpServerConfig,
  type PermissionsConfig,
  type ProviderConfig,
} from "./config/schema.ts";
export { ConfigError, loadAgentConfig, parseAgentConfig, validateConfig } from "./config/load.ts";
export { HclSyntaxError, parseHcl } from "./config/hcl.ts";
export {
  type ChatRequest,
  collect,
  type LlmProvider,
  type Message,
  ProviderError,
  type ProviderEvent,
  type ToolCall,
  type ToolSpec,
  type Usage,
} from "./llm/types.ts";
export { ScriptedProvider, type ScriptedReply, type ScriptStep } from "./llm/scripted.ts";
export { laneRetryRunner } from "./llm/retry.ts";
export { OpenAiProvider, type OpenAiProviderOptions } from "./providers/openai.ts";
export { AnthropicProvider, type AnthropicProviderOptions } from "./providers/anthropic.ts";
export {
  defineTool,
  type Tool,
  type ToolContext,
  type ToolEffect,
  ToolError,
  type ToolSpecOf,
} from "./tools/tool.ts";
export { BUILTIN_TOOL_NAMES, BUILTIN_TOOLS } from "./tools/builtin.ts";
export type {
  MemoryAccess,
  MemoryRecord,
  SearchFunction,
  SearchHit,
  TodoItem,
} from "./tools/services.ts";
export { type ApprovalRequest, type Approver, PermissionPolicy } from "./policy/permissions.ts";
export {
  type HookDecision,
  type HookEvent,
  type HookFunction,
  type HookRegistration,
  HookRunner,
} from "./policy/hooks.ts";
export {
  maskFindings,
  SessionGuard,
  TaintError,
  type TextClassifier,
  WITHHELD_INJECTION,
} from "./policy/guard.ts";
export {
  safeclawToolOutputs,
  type ToolOutputInspector,
  type ToolOutputRequest,
  type ToolOutputVerdict,
} from "./policy/tool_output.ts";
export {
  safeclawToolCalls,
  type ToolCallInspector,
  type ToolCallRequest,
  type ToolCallVerdict,
} from "./policy/tool_calls.ts";
export { LocalOnlyError, modelIsLocal } from "./policy/model_locality.ts";
export { BubblewrapSandbox, type CommandSandbox, ProcessSandbox } from "./runtime/sandbox.ts";
export { SessionSandboxes, type SessionSandboxesOptions } from "./runtime/session_sandboxes.ts";
export type { SessionWorkspacesOptions } from "./runtime/session_workspaces.ts";
export { PathEscapeError, Workspace } from "./runtime/workspace.ts";
export { SkillRegistry } from "./skills/skills.ts";
export { type EmbedFunction, StoreMemory } from "./state/memory.ts";
export { IndexedMemory, type MemorySearchIndex } from "./state/indexed_memory.ts";
export { type HistoryStore, MemoryHistory, StoreHistory } from "./state/history.ts";
export { connectMcpServer } from "./mcp/client.ts";
export { createMcpServer, serveMcpStdio } from "./mcp/server.ts";

export type { AgentRuntime, ResolvedModel } from "./agent/runtime.ts";
export type { AuditLog } from "./state/audit.ts";
export type { RetryRunner } from "./llm/types.ts";
export type { DeepPartial, ModelConfig, SubagentConfig } from "./config/schema.ts";
export type { ToolResult } from "./tools/run_tool.ts";
export type {
  CommandResult,
  RunOptions,
  SessionEnvironment,
  SessionQuota,
} from "./runtime/sandbox.ts";
export type { SessionInfo } from "./state/history.ts";
export type { HookEventName, HookOutcome } from "./policy/hooks.ts";
export type { PermissionAction, PermissionDecision, PermissionRule } from "./policy/permissions.ts";
export type { PlanStep } from "./agent/planner.ts";
export type { GuardFinding, GuardOptions, InspectedResult } from "./policy/guard.ts";
export type { Skill } from "./skills/skills.ts";
export type { SkillSummary, ToolServices } from "./tools/services.ts";
export type { McpConnection } from "./mcp/client.ts";
export type { LoadedConfig } from "./config/load.ts";
export type { HclDocument, HclOptions, HclValue } from "./config/hcl.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/code";
