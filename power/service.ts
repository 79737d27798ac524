/**
 * power's operations as the APIs and the CLI use them: chat, generate and embed against
 * models from the store, with tool calls and structured output.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { A3sError, type Config, counter, histogram, ValidationError } from "@a3s/common";
import {
  type ChatMessage,
  type ChatToolCall,
  renderChat,
  type ToolDefinition,
} from "./engine/chat_template.ts";
import { JsonConstraint, type TokenConstraint } from "./engine/constraint.ts";
import { embedText } from "./engine/embed.ts";
import { generate, type GenerationResult, type TokenEvent } from "./engine/generate.ts";
import { ANY_OBJECT, compileSchema, toolCallSchema } from "./engine/json_schema.ts";
import type { SamplingOptions } from "./engine/sampler.ts";
import { type LoadedModel, ModelRegistry, type RegistryOptions } from "./models/registry.ts";
import { ModelStore } from "./models/store.ts";
import { ToolCallTrigger } from "./engine/tool_trigger.ts";

/** The model that ships with power, served by default. */
export const DEFAULT_MODEL_NAME = "a3s-default:latest";
/** Where the shipped default model lives. */
export const DEFAULT_MODEL_DIR: string = fileURLToPath(new URL("./model/default", import.meta.url));

/** Settings for {@linkcode Power}; the `power` section of the a3s config file. */
export interface PowerOptions extends RegistryOptions {
  /** Data dir; models are stored in `<home>/models`. */
  home: string;
  /** Read-only models by name, such as the shipped default. */
  models?: Record<string, string>;
  /** Do not register the shipped default model. */
  noDefaultModel?: boolean;
  /** Do not load the default model when the server starts. */
  noPreload?: boolean;
}

/** How the model may call tools: OpenAI's `tool_choice`. */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/** Shared request settings for chat and generate. */
export interface CompletionParams {
  model: string;
  sampling?: SamplingOptions;
  maxTokens?: number;
  stop?: string[];
  /** `"json"` for any JSON object, or a JSON Schema the output must validate against. */
  format?: "json" | Record<string, unknown>;
  logprobs?: boolean;
  topLogprobs?: number;
  keepAlive?: string | number;
  truncate?: boolean;
  /** Caps the context below the model's own (Ollama's `num_ctx`). */
  contextLength?: number;
  signal?: AbortSignal;
}

/** A chat request. */
export interface ChatParams extends CompletionParams {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
}

/** A raw or templated completion request (Ollama's generate, OpenAI's completions). */
export interface GenerateParams extends CompletionParams {
  prompt: string;
  system?: string;
  /** Send the prompt as-is, without the chat template. */
  raw?: boolean;
  /** Token ids of an earlier exchange to continue (Ollama's `context`). */
  context?: number[];
}

/** A parsed tool call: the function and its arguments. */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** What a finished generation produced, with timings in nanoseconds. */
export interface CompletionOutcome {
  model: string;
  content: string;
  toolCalls: ToolCall[];
  result: GenerationResult;
  promptIds: number[];
  loadNs: number;
  totalNs: number;
}

/** A streamed piece of output: visible text plus the token's logprobs. */
export interface CompletionChunk {
  text: string;
  event: TokenEvent;
}

const tokensGenerated = counter({
  name: "a3s_power_tokens_generated_total",
  help: "Tokens generated, by model.",
  labelNames: ["model"],
});
const promptTokens = counter({
  name: "a3s_power_prompt_tokens_total",
  help: "Prompt tokens evaluated, by model.",
  labelNames: ["model"],
});
const firstTokenSeconds = histogram({
  name: "a3s_power_time_to_first_token_seconds",
  help: "From request to first generated token, by model.",
  labelNames: ["model"],
});

const TOOL_OPEN = "<tool_call>";
const TOOL_BLOCK = /<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g;

/** Splits generated text into visible content and the tool calls it holds. */
export function parseToolCalls(text: string): { content: string; toolCalls: ToolCall[] } {
  const toolCalls: ToolCall[] = [];
  const content = text.replace(TOOL_BLOCK, (block, body: string) => {
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.name === "string") {
        const args = typeof parsed.arguments === "string"
          ? JSON.parse(parsed.arguments)
          : parsed.arguments ?? parsed.parameters ?? {};
        toolCalls.push({ name: parsed.name, arguments: args });
        return "";
      }
    } catch {
      // Not a well-formed call: leave it in the content.
    }
    return block;
  });
  return { content: toolCalls.length ? content.trim() : content, toolCalls };
}

function toolsFor(tools: ToolDefinition[], choice: ToolChoice | undefined): ToolDefinition[] {
  if (!tools.length || choice === "none") return [];
  if (typeof choice === "object") {
    const tool = tools.find((t) => t.function.name === choice.name);
    if (!tool) {
      throw new ValidationError(`tool_choice: no tool named '${choice.name}'`, "tool_choice");
    }
    return [tool];
  }
  return tools;
}

/**
 * power: the model store, the loaded models and the operations on them.
 *
 * @example
 * ```ts
 * const power = new Power({ home: "/tmp/a3s", models: { tiny: "power/testdata/tiny" } });
 * const { outcome } = await power.complete(power.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }] }));
 * await power.close();
 * ```
 */
export class Power {
  readonly store: ModelStore;
  readonly registry: ModelRegistry;
  readonly defaultModel: string;

  constructor(options: PowerOptions) {
    const builtins: Record<string, string> = { ...(options.models ?? {}) };
    if (!options.noDefaultModel) builtins[DEFAULT_MODEL_NAME] ??= DEFAULT_MODEL_DIR;
    this.store = new ModelStore(join(options.home, "models"), builtins);
    this.registry = new ModelRegistry(this.store, options);
    this.defaultModel = options.noDefaultModel
      ? Object.keys(builtins)[0] ?? DEFAULT_MODEL_NAME
      : DEFAULT_MODEL_NAME;
  }

  /** Reads the `power` section of the a3s config. */
  static fromConfig(config: Config): Power {
    const section = (config.power ?? {}) as Partial<PowerOptions>;
    return new Power({ ...section, home: config.home });
  }

  #constraint(
    model: LoadedModel,
    params: CompletionParams,
    tools: ToolDefinition[],
    choice?: ToolChoice,
  ) {
    const language = model.language!;
    const eos = [...language.stopTokens];
    const schemaTools = tools.map((t) => ({
      name: t.function.name,
      parameters: t.function.parameters,
    }));
    if (tools.length && (choice === "required" || typeof choice === "object")) {
      return {
        constraint: new JsonConstraint(language.tokenizer, toolCallSchema(schemaTools), eos, {
          prefix: `${TOOL_OPEN}\n`,
          suffix: "\n</tool_call>",
        }) as TokenConstraint,
        hideAll: true,
      };
    }
    if (tools.length) {
      return {
        constraint: new ToolCallTrigger(
          language.tokenizer,
          TOOL_OPEN,
          () =>
            new JsonConstraint(language.tokenizer, toolCallSchema(schemaTools), eos, {
              prefix: "\n",
              suffix: "\n</tool_call>",
            }),
        ),
        hideAll: false,
      };
    }
    if (params.format !== undefined) {
      const node = params.format === "json" ? ANY_OBJECT : compileSchema(params.format, "format");
      return { constraint: new JsonConstraint(language.tokenizer, node, eos), hideAll: false };
    }
    return { constraint: undefined, hideAll: false };
  }

  async *#complete(
    params: CompletionParams,
    buildPrompt: (model: LoadedModel) => number[],
    tools: ToolDefinition[],
    choice?: ToolChoice,
  ): AsyncGenerator<CompletionChunk, CompletionOutcome> {
    const started = performance.now();
    const { model, loadNs, release } = await this.registry.acquire(
      params.model,
      params.keepAlive,
      params.signal,
    );
    try {
      if (!model.language) {
        throw new A3sError(
          "unsupported",
          `model '${model.name}' is an embedding model and cannot generate`,
          {
            status: 400,
            field: "model",
          },
        );
      }
      const promptIds = buildPrompt(model);
      const { constraint, hideAll } = this.#constraint(model, params, tools, choice);
      const stream = generate(model.language, promptIds, {
        maxTokens: params.maxTokens,
        stop: params.stop,
        sampling: params.sampling,
        constraint,
        logprobs: params.logprobs,
        topLogprobs: params.topLogprobs,
        signal: params.signal,
        truncate: params.truncate,
        contextLength: params.contextLength,
      });
      let all = "";
      let shown = 0;
      let step = await stream.next();
      firstTokenSeconds.observe({ model: model.name }, (performance.now() - started) / 1000);
      while (!step.done) {
        const event = step.value;
        all += event.text;
        let visible = "";
        if (!hideAll) {
          // Text from a tool call's opening tag on is not content; hold back a partial tag.
          const at = all.indexOf(TOOL_OPEN);
          let end = at >= 0 ? at : all.length;
          if (at < 0 && tools.length) {
            for (let n = Math.min(TOOL_OPEN.length - 1, all.length); n > 0; n--) {
              if (all.endsWith(TOOL_OPEN.slice(0, n))) {
                end = all.length - n;
                break;
              }
            }
          }
          if (end > shown) {
            visible = all.slice(shown, end);
            shown = end;
          }
        }
        yield { text: visible, event };
        step = await stream.next();
      }
      const result = step.value;
      tokensGenerated.inc({ model: model.name }, result.completionTokens);
      promptTokens.inc({ model: model.name }, result.promptTokens);
      const parsed = tools.length
        ? parseToolCalls(result.text)
        : { content: result.text, toolCalls: [] };
      if (!hideAll && !parsed.toolCalls.length && shown < result.text.length) {
        const rest = result.text.slice(shown);
        yield { text: rest, event: { token: -1, text: rest, tokenText: "" } };
      }
      return {
        model: model.name,
        content: parsed.content,
        toolCalls: parsed.toolCalls,
        result,
        promptIds,
        loadNs,
        totalNs: Math.round((performance.now() - started) * 1e6),
      };
    } finally {
      release();
    }
  }

  /** Streams a chat reply; the generator's return value is the finished outcome. */
  chat(params: ChatParams): AsyncGenerator<CompletionChunk, CompletionOutcome> {
    if (!params.messages.length) {
      throw new ValidationError("messages: at least one message is needed", "messages");
    }
    const tools = toolsFor(params.tools ?? [], params.toolChoice);
    return this.#complete(
      params,
      (model) => {
        const tokenizer = model.tokenizer;
        const prompt = renderChat(model.manifest.chatTemplate, params.messages, {
          tools,
          bosToken: String(model.manifest.tokenizerConfig.bos_token ?? ""),
          eosToken: String(model.manifest.tokenizerConfig.eos_token ?? ""),
        });
        return tokenizer.encode(prompt, { special: "all" });
      },
      tools,
      params.toolChoice,
    );
  }

  /** Streams a completion of `prompt` (templated unless `raw`). */
  generate(params: GenerateParams): AsyncGenerator<CompletionChunk, CompletionOutcome> {
    return this.#complete(params, (model) => {
      const tokenizer = model.tokenizer;
      let ids: number[];
      if (params.raw || !model.manifest.chatTemplate) {
        ids = tokenizer.encode(params.prompt, { special: "none" });
      } else {
        const messages: ChatMessage[] = [];
        if (params.system) messages.push({ role: "system", content: params.system });
        messages.push({ role: "user", content: params.prompt });
        ids = tokenizer.encode(renderChat(model.manifest.chatTemplate, messages, {}), {
          special: "all",
        });
      }
      return [...(params.context ?? []), ...ids];
    }, []);
  }

  /** Drains a stream and returns its outcome. */
  async complete(
    stream: AsyncGenerator<CompletionChunk, CompletionOutcome>,
  ): Promise<{ outcome: CompletionOutcome; events: TokenEvent[] }> {
    const events: TokenEvent[] = [];
    let step = await stream.next();
    while (!step.done) {
      if (step.value.event.token >= 0) events.push(step.value.event);
      step = await stream.next();
    }
    return { outcome: step.value, events };
  }

  /** Embeds each input; vectors are unit length. */
  async embed(
    modelName: string,
    inputs: string[],
    options: { truncate?: boolean; keepAlive?: string | number; signal?: AbortSignal } = {},
  ): Promise<
    { model: string; embeddings: number[][]; promptTokens: number; loadNs: number; totalNs: number }
  > {
    const started = performance.now();
    return await this.registry.use(modelName, options.keepAlive, async (model, loadNs) => {
      const embeddings: number[][] = [];
      let promptTokens = 0;
      for (const input of inputs) {
        const { vector, tokens } = await embedText(
          model.encoder ?? model.language!.lm,
          model.tokenizer,
          input,
          {
            pooling: model.pooling,
            maxTokens: model.manifest.contextLength,
            truncate: options.truncate ?? true,
            encoder: Boolean(model.encoder),
          },
        );
        embeddings.push(Array.from(vector));
        promptTokens += tokens;
      }
      return {
        model: model.name,
        embeddings,
        promptTokens,
        loadNs,
        totalNs: Math.round((performance.now() - started) * 1e6),
      };
    }, options.signal);
  }

  /** Unloads every model. */
  async close(): Promise<void> {
    await this.registry.close();
  }
}

export type { ChatMessage, ChatToolCall, ToolDefinition };
