/** How Ollama's routes are declared for the OpenAPI document. */
import { createRoute, type z } from "@hono/zod-openapi";

/** Builds an Ollama POST route whose body is `schema`. */
export function ollamaPost<S extends z.ZodType, P extends string>(
  path: P,
  schema: S,
  summary: string,
  streamed = false,
) {
  return createRoute({
    method: "post",
    path,
    summary,
    tags: ["ollama"],
    request: { body: { content: { "application/json": { schema } }, required: true } },
    responses: {
      200: {
        description: streamed
          ? "JSON, or NDJSON lines when `stream` is true (the default)"
          : "JSON",
      },
    },
  });
}
