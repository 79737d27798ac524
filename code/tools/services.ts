/**
 * What tools need from the session around them. Each is a small interface so the tools do not
 * depend on how the session, the search backend or the security guard are built.
 */
import type { ToolResult } from "./run_tool.ts";

/** One item of the session's plan. */
export interface TodoItem {
  id: string;
  content: string;
  status: "pending" | "in_progress" | "completed" | "cancelled";
}

/** A search hit, as `web_search` returns it. */
export interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

/** The search backend: search's meta search, or any function of the same shape. */
export type SearchFunction = (
  query: string,
  options: { limit: number; signal?: AbortSignal },
) => Promise<SearchHit[]>;

/** A skill, as tools see it. */
export interface SkillSummary {
  name: string;
  description: string;
}

/** One memory record. */
export interface MemoryRecord {
  id: string;
  scope: "project" | "user";
  content: string;
  tags: string[];
  createdAt: number;
  score?: number;
}

/** The session's view of long-term memory. */
export interface MemoryAccess {
  save(scope: "project" | "user", content: string, tags: string[]): Promise<MemoryRecord>;
  search(
    query: string,
    options: { scope?: "project" | "user"; limit: number },
  ): Promise<MemoryRecord[]>;
  list(options: { scope?: "project" | "user"; limit: number }): Promise<MemoryRecord[]>;
  remove(id: string): Promise<boolean>;
}

/** Everything a tool may reach beyond the workspace and sandbox. */
export interface ToolServices {
  /** The plan: `todo` replaces it; the session streams each change. */
  getTodos(): TodoItem[];
  setTodos(items: TodoItem[]): void;
  listSkills(): SkillSummary[];
  /** The skill's full instructions, or undefined when there is none of that name. */
  loadSkill(name: string): Promise<string | undefined>;
  memory?: MemoryAccess;
  search?: SearchFunction;
  /** Runs a subagent and returns its summary. */
  runSubagent(agent: string, prompt: string, signal: AbortSignal): Promise<string>;
  /** Names of the subagents `task` may start. */
  subagentNames(): string[];
  /** Runs another tool call through permissions and hooks (for `batch`). */
  runToolCall(
    name: string,
    input: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolResult>;
  /**
   * Throws when `text` carries tainted data the policy does not let out (the URL of a fetch);
   * the error message says which label.
   */
  checkEgress(text: string, channel: string): void;
  /**
   * Fetches a URL through the shared access policy (allowed hosts, no private addresses unless
   * allowed, DNS pinned, each redirect checked); refusals throw.
   */
  fetchUrl(url: URL, signal: AbortSignal): Promise<Response>;
}
