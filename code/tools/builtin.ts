/** Every built-in tool, by upstream a3s-code's names plus the agent's own. */
import type { Tool } from "./tool.ts";
import { readTool } from "./read.ts";
import { writeTool } from "./write.ts";
import { editTool } from "./edit.ts";
import { patchTool } from "./patch.ts";
import { bashTool } from "./bash.ts";
import { grepTool } from "./grep.ts";
import { globTool } from "./glob.ts";
import { lsTool } from "./ls.ts";
import { webFetchTool } from "./web_fetch.ts";
import { webSearchTool } from "./web_search.ts";
import { taskTool } from "./task.ts";
import { batchTool } from "./batch.ts";
import { gitWorktreeTool } from "./git_worktree.ts";
import { codesearchTool } from "./codesearch.ts";
import { todoTool } from "./todo.ts";
import { loadSkillTool, searchSkillsTool } from "./skills.ts";
import { memoryTool } from "./memory.ts";

/** The built-ins, in the order the model sees them. */
export const BUILTIN_TOOLS: readonly Tool[] = [
  readTool,
  writeTool,
  editTool,
  patchTool,
  bashTool,
  grepTool,
  globTool,
  lsTool,
  webFetchTool,
  webSearchTool,
  taskTool,
  batchTool,
  gitWorktreeTool,
  codesearchTool,
  todoTool,
  loadSkillTool,
  searchSkillsTool,
  memoryTool,
];

/** Built-in names; MCP tools may never take one. */
export const BUILTIN_TOOL_NAMES: ReadonlySet<string> = new Set(BUILTIN_TOOLS.map((t) => t.name));
