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
  Power,
  type PowerOptions,
} from "./service.ts";
export { parseToolCalls, type ToolCall, type ToolChoice } from "./engine/tool_calls.ts";
export type { ChatMessage, ChatToolCall, ToolDefinition } from "./engine/chat_template.ts";
export type { GenerationResult, TokenEvent } from "./engine/generate.ts";
export type { SamplingOptions } from "./engine/sampler.ts";
export type { ModelManifest } from "./engine/model_dir.ts";
export {
  ModelStore,
  type PullOptions,
  type PullProgress,
  type SourcePolicy,
  type StoredModel,
} from "./models/store.ts";
export type { LoadedModelInfo, ModelLifecycle, RegistryOptions } from "./models/registry.ts";
export { modelNameFromSource, normalizeName } from "./models/names.ts";
export { keepAliveProblem, parseKeepAlive } from "./models/keep_alive.ts";

export type { PowerSection } from "./config.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/power";
