/**
 * What tools need from the session around them. Each is a small interface so the tools do not
 * depend on how the session, the search backend or the security guard are built.
 */
import type { ToolResult } from "./run_tool.ts";

/** One item of the session's plan. */
export interface TodoItem {
  /** The item's id, stable across updates. */
  id: string;
  /** What is to be done. */
  content: string;
  /** Where the item stands. */
  status: "pending" | "in_progress" | "completed" | "cancelled";
}

/** A search hit, as `web_search` returns it. */
export interface SearchHit {
  /** The page's title. */
  title: string;
  /** The page's address. */
  url: string;
  /** An excerpt of the page that matches the query. */
  snippet: string;
}

/** The search backend: search's meta search, or any function of the same shape. */
export type SearchFunction = (
  query: string,
  options: { limit: number; signal?: AbortSignal },
) => Promise<SearchHit[]>;

/** A skill, as tools see it. */
export interface SkillSummary {
  /** The name `load_skill` takes. */
  name: string;
  /** When to use the skill. */
  description: string;
}

/** One memory record. */
export interface MemoryRecord {
  /** The memory's id (`mem_...`), for removal. */
  id: string;
  /** Whom it belongs to: this project, or the user across projects. */
  scope: "project" | "user";
  /** The remembered text. */
  content: string;
  /** Words to find it by. */
  tags: string[];
  /** When it was saved, in epoch milliseconds. */
  createdAt: number;
  /** How well it matched a search, 0 to 1; set on search results only. */
  score?: number;
}

/** The session's view of long-term memory. */
export interface MemoryAccess {
  /** Saves a memory in `scope` and returns it. */
  save(scope: "project" | "user", content: string, tags: string[]): Promise<MemoryRecord>;
  /** Memories matching `query`, best first, at most `options.limit`. */
  search(
    query: string,
    options: { scope?: "project" | "user"; limit: number },
  ): Promise<MemoryRecord[]>;
  /** The newest memories, at most `options.limit`, of one scope or both. */
  list(options: { scope?: "project" | "user"; limit: number }): Promise<MemoryRecord[]>;
  /** Deletes a memory; false when there was none. */
  remove(id: string): Promise<boolean>;
  /**
   * The same memory seen from `namespace` (a chat's `user:channel:chat`): it saves there, and
   * searches, lists and deletes only there, never the agent's shared memories nor another
   * namespace's. Absent or undefined: the memory cannot keep namespaces apart, and namespaced
   * sessions get none.
   */
  inNamespace?(namespace: string): MemoryAccess | undefined;
  /**
   * The same memory without its embedding model: what it saves and searches is never sent to
   * one (keyword search only). A local-only session takes this view when the embedding model
   * may run off this machine; absent or undefined, such a session gets no memory.
   */
  keywordOnly?(): MemoryAccess | undefined;
}

/** Everything a tool may reach beyond the workspace and sandbox. */
export interface ToolServices {
  /** The plan: `todo` replaces it; the session streams each change. */
  getTodos(): TodoItem[];
  /** Replaces the plan; the session streams the change. */
  setTodos(items: TodoItem[]): void;
  /** The skills the session can load. */
  listSkills(): SkillSummary[];
  /** The skill's full instructions, or undefined when there is none of that name. */
  loadSkill(name: string): Promise<string | undefined>;
  /** Long-term memory, when enabled. */
  memory?: MemoryAccess;
  /** The web search backend, when wired up. */
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
  /**
   * Whether the session's rules let `read(path)` run without asking (`path` as a tool got it,
   * relative to the workspace): grep, glob and codesearch leave out the files for which it is
   * false, since no one can be asked file by file. Absent: nothing is left out.
   */
  mayRead?(path: string): boolean;
  /**
   * `text` with secrets and tainted values masked by the session's guard, for what a tool keeps
   * beyond the session (the `memory` tool saves through it). Absent: stored as given.
   */
  redact?(text: string): string;
}
