/** The decoding loop: prefill once, then one token per step through the KV cache. */
import { A3sError, ValidationError } from "@a3s/common";
import type { Tokenizer } from "./_tokenizer.ts";
import { longestTokenBytes, type TokenConstraint } from "./constraint.ts";
import { EventLoopShare } from "./_event_loop.ts";
import type { ModelManifest } from "./model_dir.ts";
import { Sampler, type SamplingOptions } from "./sampler.ts";
import type { CausalLM } from "./session.ts";
import type { StepBatcher } from "./batch.ts";

/** A causal model ready to generate: its session, tokenizer and manifest. */
export interface LanguageModel {
  lm: CausalLM;
  tokenizer: Tokenizer;
  manifest: ModelManifest;
  /** Token ids that end a generation. */
  stopTokens: ReadonlySet<number>;
  /** Shares decode steps with concurrent generations when set. */
  batcher?: StepBatcher;
}

/** Options for {@linkcode generate}. */
export interface GenerateOptions {
  /** Tokens to generate at most; the rest of the context when unset. */
  maxTokens?: number;
  /** Text that ends the generation; it is not part of the output. */
  stop?: readonly string[];
  sampling?: SamplingOptions;
  constraint?: TokenConstraint;
  /** Alternatives to report per token; 0 reports only the chosen token's logprob. */
  topLogprobs?: number;
  logprobs?: boolean;
  signal?: AbortSignal;
  /** Drop the oldest prompt tokens instead of failing when the prompt exceeds the context. */
  truncate?: boolean;
  /** A context smaller than the model's (Ollama's `num_ctx`); larger values are capped. */
  contextLength?: number;
  /** The request field the constraint came from, named when it cannot fit (`format`). */
  constraintField?: string;
}

/** One chosen token and the text it released. */
export interface TokenEvent {
  /** The token id; -1 for text released at the end without a token of its own. */
  token: number;
  /** Text safe to show now (held back while it might start a stop sequence). */
  text: string;
  /** The token's own text. */
  tokenText: string;
  /** The token's log-probability, when asked for. */
  logprob?: number;
  /** The most likely alternatives with their log-probabilities, when asked for. */
  top?: { token: number; text: string; logprob: number }[];
}

/** Why a generation ended, with its counts and timings in nanoseconds. */
export interface GenerationResult {
  /** All generated text, stop sequences cut off. */
  text: string;
  /** The generated token ids. */
  tokens: number[];
  /** `stop`: it ended by itself; `length`: the limit or the context; `cancelled`: aborted. */
  finishReason: "stop" | "length" | "cancelled";
  /** Tokens in the prompt as evaluated (after any truncation). */
  promptTokens: number;
  /** Tokens generated. */
  completionTokens: number;
  /** Time evaluating the prompt. */
  promptEvalNs: number;
  /** Time generating. */
  evalNs: number;
}

const tokenDecoder = new TextDecoder();

function holdback(text: string, stops: readonly string[]): number {
  let keep = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > keep; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        keep = n;
        break;
      }
    }
  }
  return keep;
}

/** Fits the prompt into the context, truncating from the front when asked to. */
export function fitPrompt(ids: readonly number[], context: number, truncate: boolean): number[] {
  // One token of the context is kept for the first generated token.
  const limit = context - 1;
  if (!ids.length) {
    throw new ValidationError("prompt: empty, so there is nothing to continue from", "prompt");
  }
  if (limit < 1) {
    throw new ValidationError(
      `num_ctx: a context of ${context} token(s) leaves no room for a prompt and a reply`,
      "num_ctx",
    );
  }
  if (ids.length <= limit) return [...ids];
  if (!truncate) {
    throw new A3sError(
      "context_length_exceeded",
      `prompt is ${ids.length} tokens, which exceeds the model's context of ${context} by ${
        ids.length - limit
      } (leaving room for one generated token); shorten it or ask for truncation`,
      { status: 400, field: "prompt" },
    );
  }
  return ids.slice(ids.length - limit);
}

/**
 * Refuses a constraint whose shortest complete output cannot fit in the `room` tokens the
 * context leaves: generating would only end in a truncated value.
 */
function assertCompletable(
  constraint: TokenConstraint,
  tokenizer: Tokenizer,
  room: number,
  field: string,
): void {
  const need = constraint.minimalLength();
  // Every token carries at least one byte, so `need` bytes never take more than `need` tokens.
  if (need <= room) return;
  const fits = need <= room * longestTokenBytes(tokenizer) &&
    constraint.completionTokens().length <= room;
  if (!fits) {
    throw new ValidationError(
      `${field}: the shortest output the schema allows (${need} bytes) does not fit in the ${room} tokens the context leaves`,
      field,
    );
  }
}

/**
 * The tokens of the shortest text that closes the constrained output, cut to the `remaining`
 * tokens: the limit bounds the closing text too, so past it the output stays unfinished
 * (finish reason "length"). Empty when even the start of the closing text is out of reach.
 */
function closingTokens(
  constraint: TokenConstraint,
  tokenizer: Tokenizer,
  remaining: number,
): number[] {
  const need = constraint.minimalLength();
  // Building a closing text far longer than the tokens left would only be thrown away.
  if (need > remaining * longestTokenBytes(tokenizer)) return [];
  return constraint.completionTokens().slice(0, remaining);
}

/** True when the output must be closed now: the shortest completion nearly fills what is left. */
function mustClose(constraint: TokenConstraint, tokenizer: Tokenizer, remaining: number): boolean {
  const need = constraint.minimalLength();
  if (need === 0 || need < remaining - 1) return false;
  if (need > remaining * longestTokenBytes(tokenizer)) return true;
  return constraint.completionTokens().length >= remaining - 1;
}

/**
 * Generates from `promptIds`, yielding each token as it is chosen and returning the result.
 *
 * @example
 * ```ts
 * const stream = generate(model, model.tokenizer.encode("hello"), { maxTokens: 8 });
 * for (let r = await stream.next(); !r.done; r = await stream.next()) console.log(r.value.text);
 * ```
 */
export async function* generate(
  model: LanguageModel,
  promptIds: readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<TokenEvent, GenerationResult> {
  const { lm, tokenizer } = model;
  const context = Math.min(model.manifest.contextLength, options.contextLength ?? Infinity);
  const prompt = fitPrompt(promptIds, context, options.truncate ?? false);
  const room = context - prompt.length;
  const maxTokens = Math.max(0, Math.min(options.maxTokens ?? room, room));
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const sampler = new Sampler(options.sampling);
  const constraint = options.constraint;
  if (constraint) {
    assertCompletable(constraint, tokenizer, room, options.constraintField ?? "format");
  }
  const topCount = options.topLogprobs ?? 0;
  const wantLogprobs = options.logprobs || topCount > 0;
  const history = [...prompt];
  const tokens: number[] = [];
  const decoder = new TextDecoder();
  let text = "";
  let emitted = 0;
  let finishReason: GenerationResult["finishReason"] = "length";
  const cache = lm.newCache();
  const share = new EventLoopShare();
  model.batcher?.enter();
  try {
    return yield* decode();
  } finally {
    model.batcher?.leave();
  }

  async function* decode(): AsyncGenerator<TokenEvent, GenerationResult> {
    const started = performance.now();
    let { logits } = await lm.forward(prompt, cache);
    const prefillDone = performance.now();

    const accept = (token: number): { event: TokenEvent; stopped: boolean } => {
      tokens.push(token);
      history.push(token);
      const bytes = tokenizer.tokenBytes(token);
      text += decoder.decode(bytes, { stream: true });
      let stopped = false;
      let visibleEnd = text.length - holdback(text, stops);
      for (const stop of stops) {
        const at = text.indexOf(stop, Math.max(0, emitted - stop.length));
        if (at >= 0) {
          text = text.slice(0, at);
          visibleEnd = at;
          stopped = true;
        }
      }
      const piece = text.slice(emitted, Math.max(emitted, visibleEnd));
      emitted = Math.max(emitted, visibleEnd);
      return {
        event: { token, text: piece, tokenText: tokenDecoder.decode(bytes) },
        stopped,
      };
    };

    /** Emits the closing text the limit leaves room for; the generation ends at the limit. */
    function* close(constraint: TokenConstraint, remaining: number): Generator<TokenEvent> {
      for (const token of closingTokens(constraint, tokenizer, remaining)) {
        constraint.advance(token);
        yield accept(token).event;
      }
      finishReason = "length";
    }

    while (tokens.length < maxTokens) {
      if (options.signal?.aborted) {
        finishReason = "cancelled";
        break;
      }
      if (constraint?.mustEnd()) {
        finishReason = "stop";
        break;
      }
      const remaining = maxTokens - tokens.length;
      if (constraint && mustClose(constraint, tokenizer, remaining)) {
        yield* close(constraint, remaining);
        break;
      }
      sampler.prepare(logits, history);
      let choice;
      if (constraint) {
        // Most picks are already valid; only build the full mask when this one is not.
        const first = sampler.pick(logits, undefined, topCount, wantLogprobs);
        if (constraint.allows(first.token)) choice = first;
        else {
          const mask = constraint.mask();
          if (!mask.includes(1)) {
            // Nothing can follow (the constraint reached a dead end): end rather than guess.
            finishReason = "stop";
            break;
          }
          choice = sampler.pick(logits, mask, topCount, wantLogprobs);
        }
      } else {
        choice = sampler.pick(logits, undefined, topCount, wantLogprobs);
      }
      const token = choice.token;
      if (model.stopTokens.has(token)) {
        finishReason = "stop";
        break;
      }
      if (constraint && constraint.minimalLengthAfter(token) > remaining - 1) {
        // After this token the value could no longer close within the limit: close it now.
        yield* close(constraint, remaining);
        break;
      }
      constraint?.advance(token);
      const { event, stopped } = accept(token);
      if (wantLogprobs) {
        event.logprob = choice.logprob;
        event.top = choice.top?.map((t) => ({
          token: t.token,
          text: tokenDecoder.decode(tokenizer.tokenBytes(t.token)),
          logprob: t.logprob,
        }));
      }
      yield event;
      if (stopped) {
        finishReason = "stop";
        break;
      }
      if (tokens.length >= maxTokens) break;
      await share.turn();
      logits = model.batcher
        ? await model.batcher.step(token, cache)
        : (await lm.forward([token], cache)).logits;
    }
    text += decoder.decode();
    if (emitted < text.length) {
      yield { token: -1, text: text.slice(emitted), tokenText: "" };
    }
    const finished = performance.now();
    return {
      text,
      tokens,
      finishReason,
      promptTokens: prompt.length,
      completionTokens: tokens.length,
      promptEvalNs: Math.round((prefillDone - started) * 1e6),
      evalNs: Math.round((finished - prefillDone) * 1e6),
    };
  }
}
