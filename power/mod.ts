/**
 * `@a3s/power`: run language models on your own machine with onnxruntime-node, behind
 * Ollama- and OpenAI-compatible APIs, with JSON-Schema-constrained output and tool calls.
 *
 * @example
 * ```ts
 * import { Power } from "@a3s/power";
 * const power = new Power({ home: "/tmp/a3s", models: { tiny: "power/testdata/tiny" } });
 * const { outcome } = await power.complete(
 *   power.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }], maxTokens: 8 }),
 * );
 * console.log(outcome.content);
 * await power.close();
 * ```
 * @module
 */
export {
  type ChatParams,
  type CompletionChunk,
  type CompletionOutcome,
  type CompletionParams,
  DEFAULT_MODEL_DIR,
  DEFAULT_MODEL_NAME,
  type GenerateParams,
  parseToolCalls,
  Power,
  type PowerOptions,
  type ToolCall,
  type ToolChoice,
} from "./service.ts";
export { powerModule, powerRouter } from "./routes.ts";
export type { ChatMessage, ChatToolCall, ToolDefinition } from "./engine/chat_template.ts";
export { type GenerateOptions, type GenerationResult, type TokenEvent } from "./engine/generate.ts";
export { Sampler, type SamplingOptions } from "./engine/sampler.ts";
export { compileSchema, type SchemaNode } from "./engine/json_schema.ts";
export { JsonConstraint, type TokenConstraint } from "./engine/constraint.ts";
export { StepBatcher } from "./engine/batch.ts";
export { type ModelManifest, readModelDir } from "./engine/model_dir.ts";
export { ModelStore, type PullProgress, type StoredModel } from "./models/store.ts";
export { type LoadedModel, ModelRegistry, type RegistryOptions } from "./models/registry.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/power";
