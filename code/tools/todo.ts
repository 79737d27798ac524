/** `todo`: the session's plan, replaced whole on each call and streamed as a plan event. */
import { z } from "zod";
import { defineTool } from "./tool.ts";

export const todoTool = defineTool({
  name: "todo",
  description:
    "Keep the task list for this session. Send the whole list each time; mark one item in_progress while working on it and completed when done. Without todos, returns the current list.",
  effect: "read",
  input: z.object({
    todos: z.array(z.object({
      id: z.string().min(1),
      content: z.string().min(1),
      status: z.enum(["pending", "in_progress", "completed", "cancelled"]).default("pending"),
    })).optional(),
  }),
  run(input, ctx) {
    if (input.todos) ctx.services.setTodos(input.todos);
    const todos = ctx.services.getTodos();
    const mark = { pending: "[ ]", in_progress: "[~]", completed: "[x]", cancelled: "[-]" };
    return Promise.resolve(
      todos.map((t) => `${mark[t.status]} ${t.id}. ${t.content}`).join("\n") || "(no todos)",
    );
  },
});
