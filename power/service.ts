/**
 * power's operations as the APIs and the CLI use them: chat, generate and embed against
 * models from the store, with tool calls and structured output.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  A3sError,
  AccessPolicy,
  type Config,
  counter,
  histogram,
  UsageError,
  ValidationError,
} from "@a3s/common";
import { PowerSectionSchema } from "./config.ts";
import type { SourcePolicy } from "./models/store.ts";
import {
  type ChatMessage,
  type ChatToolCall,
  renderChat,
  type ToolDefinition,
} from "./engine/chat_template.ts";
import { JsonConstraint, type TokenConstraint } from "./engine/constraint.ts";
import { embedText } from "./engine/embed.ts";
import { EventLoopShare } from "./engine/_event_loop.ts";
import { generate, type GenerationResult, type TokenEvent } from "./engine/generate.ts";
import { ANY_OBJECT, compileSchema } from "./engine/json_schema.ts";
import type { SamplingOptions } from "./engine/sampler.ts";
import {
  offeredTools,
  parseToolCalls,
  type ToolCall,
  toolCallDecoding,
  ToolCallTextFilter,
  type ToolChoice,
} from "./engine/tool_calls.ts";
import {
  CLIENT_CLOSED_REQUEST,
  type LoadedModel,
  type ModelLifecycle,
  ModelRegistry,
  type RegistryOptions,
} from "./models/registry.ts";
import { ModelStore } from "./models/store.ts";

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
  /**
   * Checks the paths and URLs that pull requests over HTTP name. Unset, it allows no host
   * path and no private address: serve passes the one built from its `policy` config.
   */
  policy?: SourcePolicy;
}

/** Shared request settings for chat and generate. */
export interface CompletionParams {
  /** The model's name (`name[:tag]`). */
  model: string;
  /** How tokens are picked; the sampler's defaults when unset. */
  sampling?: SamplingOptions;
  /** Tokens to generate at most; the context always bounds it too. */
  maxTokens?: number;
  /** Text that ends the output; it is not part of it. */
  stop?: string[];
  /** `"json"` for any JSON object, or a JSON Schema the output must validate against. */
  format?: "json" | Record<string, unknown>;
  /** The request field `format` came from, named in errors (`response_format...` for OpenAI). */
  formatField?: string;
  /**
   * False when the caller asked for no guarantee (OpenAI's `json_schema.strict: false`): keywords
   * decoding cannot enforce then pass unenforced instead of being refused.
   */
  formatStrict?: boolean;
  /** Report each token's log-probability. */
  logprobs?: boolean;
  /** Alternatives to report per token with their log-probabilities. */
  topLogprobs?: number;
  /** How long the model stays loaded afterwards (Ollama's `keep_alive`). */
  keepAlive?: string | number;
  /** Drop the oldest prompt tokens instead of refusing a prompt longer than the context. */
  truncate?: boolean;
  /** Caps the context below the model's own (Ollama's `num_ctx`). */
  contextLength?: number;
  /** Stops the generation (finish reason `cancelled`) when aborted. */
  signal?: AbortSignal;
}

/** A chat request. */
export interface ChatParams extends CompletionParams {
  /** The conversation so far; at least one message. */
  messages: ChatMessage[];
  /** Functions the model may call. */
  tools?: ToolDefinition[];
  /** Whether and which tool the model must call; `auto` when unset. */
  toolChoice?: ToolChoice;
}

/** A raw or templated completion request (Ollama's generate, OpenAI's completions). */
export interface GenerateParams extends CompletionParams {
  /** The text to continue, or the user's turn when templated. */
  prompt: string;
  /** A system message for the template. */
  system?: string;
  /** Send the prompt as-is, without the chat template. */
  raw?: boolean;
  /** Token ids of an earlier exchange to continue (Ollama's `context`). */
  context?: number[];
}

/** What a finished generation produced, with timings in nanoseconds. */
export interface CompletionOutcome {
  /** The model's normalized name. */
  model: string;
  /** The visible text: the output without its tool calls. */
  content: string;
  /** The tool calls the output made. */
  toolCalls: ToolCall[];
  /** The raw generation: all its text, tokens, counts, timings and why it ended. */
  result: GenerationResult;
  /** The prompt's token ids, as the model saw them. */
  promptIds: number[];
  /** Time spent loading the model for this request. */
  loadNs: number;
  /** Time from the request to the end of the generation. */
  totalNs: number;
}

/** A streamed piece of output: visible text plus the token's logprobs. */
export interface CompletionChunk {
  /** Text safe to show now (tool calls and partial stop sequences are held back). */
  text: string;
  /** The token behind it, with its log-probabilities when asked for. */
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

/** Checks the ids of an earlier exchange (Ollama's `context`) against the vocabulary. */
function contextIds(ids: readonly number[], vocabSize: number): readonly number[] {
  const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad >= 0) {
    throw new ValidationError(
      `context.${bad}: token id ${ids[bad]} is outside the model's vocabulary (0 to ${
        vocabSize - 1
      })`,
      `context.${bad}`,
    );
  }
  return ids;
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
  /** The models on disk: list, pull, copy, remove. */
  readonly store: ModelStore;
  /** What is loaded; loads and unloads models. */
  readonly registry: ModelLifecycle;
  readonly #models: ModelRegistry;
  /** The model served when none is named: the shipped default unless it is turned off. */
  readonly defaultModel: string;
  /** What pulls requested over HTTP may read and fetch. */
  readonly policy: SourcePolicy;

  /** Opens the store under `options.home` and a registry with `options`' limits. */
  constructor(options: PowerOptions) {
    this.policy = options.policy ?? new AccessPolicy();
    const builtins: Record<string, string> = { ...(options.models ?? {}) };
    if (!options.noDefaultModel) builtins[DEFAULT_MODEL_NAME] ??= DEFAULT_MODEL_DIR;
    this.store = new ModelStore(join(options.home, "models"), builtins);
    this.#models = new ModelRegistry(this.store, options);
    this.registry = this.#models;
    this.defaultModel = options.noDefaultModel
      ? Object.keys(builtins)[0] ?? DEFAULT_MODEL_NAME
      : DEFAULT_MODEL_NAME;
  }

  /** Reads the `power` section of the a3s config. */
  static fromConfig(config: Config): Power {
    const parsed = PowerSectionSchema.safeParse(config.power ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UsageError(`config power.${issue.path.join(".")}: ${issue.message}`);
    }
    return new Power({ ...parsed.data, home: config.home });
  }

  /** The constraint a request decodes under: tool calls, a JSON format, or none. */
  #decoding(
    model: LoadedModel,
    params: CompletionParams,
    tools: ToolDefinition[],
    choice?: ToolChoice,
  ): { constraint?: TokenConstraint; callOnly: boolean; field: string } {
    const language = model.language!;
    const eos = [...language.stopTokens];
    if (tools.length) {
      return { ...toolCallDecoding(language.tokenizer, tools, choice, eos), field: "tools" };
    }
    const field = params.formatField ?? "format";
    if (params.format !== undefined) {
      const node = params.format === "json"
        ? ANY_OBJECT
        : compileSchema(params.format, field, { strict: params.formatStrict ?? true });
      return {
        constraint: new JsonConstraint(language.tokenizer, node, eos),
        callOnly: false,
        field,
      };
    }
    return { callOnly: false, field };
  }

  async *#complete(
    params: CompletionParams,
    buildPrompt: (model: LoadedModel) => number[],
    tools: ToolDefinition[],
    choice?: ToolChoice,
  ): AsyncGenerator<CompletionChunk, CompletionOutcome> {
    const started = performance.now();
    const { model, loadNs, release } = await this.#models.acquire(
      params.model,
      params.keepAlive,
      params.signal,
    );
    try {
      if (!model.language) {
        throw new A3sError(
          "unsupported",
          `model '${model.name}' is an embedding model and cannot generate`,
          { status: 400, field: "model" },
        );
      }
      const promptIds = buildPrompt(model);
      const { constraint, callOnly, field } = this.#decoding(model, params, tools, choice);
      const stream = generate(model.language, promptIds, {
        maxTokens: params.maxTokens,
        stop: params.stop,
        sampling: params.sampling,
        constraint,
        constraintField: field,
        logprobs: params.logprobs,
        topLogprobs: params.topLogprobs,
        signal: params.signal,
        truncate: params.truncate,
        contextLength: params.contextLength,
      });
      // With tools on offer, a call's text is not content; without, everything is.
      const filter = tools.length && !callOnly ? new ToolCallTextFilter() : undefined;
      let step = await stream.next();
      firstTokenSeconds.observe({ model: model.name }, (performance.now() - started) / 1000);
      while (!step.done) {
        const event = step.value;
        const visible = callOnly ? "" : filter ? filter.push(event.text) : event.text;
        yield { text: visible, event };
        step = await stream.next();
      }
      const result = step.value;
      tokensGenerated.inc({ model: model.name }, result.completionTokens);
      promptTokens.inc({ model: model.name }, result.promptTokens);
      const parsed = tools.length
        ? parseToolCalls(result.text)
        : { content: result.text, toolCalls: [] };
      if (filter && !parsed.toolCalls.length && filter.shown < result.text.length) {
        // A held-back tail that never became a call was content after all.
        const rest = result.text.slice(filter.shown);
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
    const tools = offeredTools(params.tools ?? [], params.toolChoice);
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
      return [...contextIds(params.context ?? [], tokenizer.vocabSize), ...ids];
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
    return await this.#models.use(modelName, options.keepAlive, async (model, loadNs) => {
      const embeddings: number[][] = [];
      let promptTokens = 0;
      const share = new EventLoopShare();
      for (const input of inputs) {
        await share.turn();
        // Thousands of inputs are long work: stop as soon as the caller has gone.
        if (options.signal?.aborted) {
          throw new A3sError("cancelled", "request cancelled", { status: CLIENT_CLOSED_REQUEST });
        }
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
    await this.#models.close();
  }
}

export type { ChatMessage, ChatToolCall, ToolCall, ToolChoice, ToolDefinition };
export { parseToolCalls };
