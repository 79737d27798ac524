/**
 * A conversation with an agent: the loop that calls the model, runs the tools it asks for
 * (permission-checked, hooked, guarded, audited), streams typed events, and keeps history.
 */
import { A3sError } from "@a3s/common/errors";
import {
  type Message,
  ProviderError,
  type ToolCall,
  type ToolSpec,
  type Usage,
} from "../llm/types.ts";
import { PermissionPolicy, requestApproval, subjectIsPath } from "../policy/permissions.ts";
import { SessionGuard, TaintError } from "../policy/guard.ts";
import { workspaceScriptReader } from "../policy/script_reader.ts";
import {
  blockedMessage,
  toolCallChecked,
  type ToolCallInspector,
  type ToolCallVerdict,
} from "../policy/tool_calls.ts";
import type { SessionEnvironment } from "../runtime/sandbox.ts";
import { LocalOnlyError, modelIsLocal } from "../policy/model_locality.ts";
import { runTool, type ToolResult } from "../tools/run_tool.ts";
import type { MemoryAccess, TodoItem, ToolServices } from "../tools/services.ts";
import type { Tool, ToolEffect } from "../tools/tool.ts";
import { type AgentEvent, EventChannel, type StopReason, type TurnResult } from "./events.ts";
import type { AgentRuntime, ResolvedModel } from "./runtime.ts";
import { buildSystemPrompt } from "./prompt.ts";
import { countRequest, tokenCounter } from "./tokens.ts";
import { DEFAULT_MAX_PARALLEL_TOOLS, type ToolSlot, ToolSlots } from "./tool_slots.ts";
import type { Approver } from "../policy/permissions.ts";
import type { PermissionsConfig } from "../config/schema.ts";

/** How to open a session. */
export interface SessionOptions {
  /** Reuse this id (resume when its history exists). */
  id?: string;
  /** `provider/model`; the agent's default when unset. */
  model?: string;
  /** The system prompt's opening, in place of the agent's (`system_prompt`). */
  systemPrompt?: string;
  /** Only these tools (by name). */
  tools?: string[];
  /** Model calls per turn before the session stops; the agent's `max_steps` when unset. */
  maxSteps?: number;
  /** Answers `ask` decisions; the agent's approver when unset. */
  approver?: Approver;
  /**
   * Overrides on the agent's permissions (subagents). A subagent's session is held to its
   * parent's permissions as well: each call gets the stricter of the two decisions.
   */
  permissions?: Partial<PermissionsConfig>;
  /**
   * The permissions this session is held to besides its own (a subagent's parent's): each call
   * gets the stricter decision.
   */
  outerPolicy?: PermissionPolicy;
  /**
   * Tool calls run at once: the calls of one model reply, and those `batch` and subagents make,
   * queue beyond it. The agent's `maxParallelTools` (8 unless set) when unset.
   */
  maxParallelTools?: number;
  /** Keep history in memory only (subagents). */
  ephemeral?: boolean;
  /** Prior messages to start from (resume). */
  messages?: Message[];
  /**
   * The safeclaw session its tool output is inspected under: a chat's `user:channel:chat`, or
   * the parent's for a subagent; this session's own id when unset.
   */
  guardSession?: string;
  /**
   * Checks this session's tool calls in place of the agent's inspector (a chat's responder
   * passes safeclaw's guard for the chat); the agent's `toolCallInspector` when unset.
   */
  toolCallInspector?: ToolCallInspector;
  /**
   * The key of the session's own box and workspace folder, where the agent's sandbox keeps
   * sessions apart (serve's box agents): sessions with one key share them (a chat's sessions
   * across restarts, a session's subagents), and closing one of them removes the box. This
   * session's id when unset.
   */
  sandboxKey?: string;
  /**
   * The namespace of this session's long-term memory (a chat's `user:channel:chat`): what it
   * saves, only sessions of the same namespace recall or delete. The agent's shared memory when
   * unset. Subagents and plan steps inherit it.
   */
  memoryNamespace?: string;
  /**
   * The session's data may only go to models on this machine (a chat at or above safeclaw's
   * local-only level): every model call of its turns (each step, compaction, a plan, its
   * subagents) is refused when its model is remote, and memory is not sent to a remote
   * embedding model. Subagents and plan steps inherit it. A turn run with
   * `TurnOptions.localOnly` sets it for the rest of the session.
   */
  localOnly?: boolean;
}

/** How one turn runs: {@linkcode AgentSession.send} and {@linkcode AgentSession.stream}. */
export interface TurnOptions {
  /**
   * The turn's data may only go to models on this machine (safeclaw's `localOnly` for the chat).
   * From this turn on the whole session stays local-only, since its history now holds the data;
   * see `SessionOptions.localOnly`.
   */
  localOnly?: boolean;
  /**
   * Cancels the turn when it fires, as {@linkcode AgentSession.cancel} does: the model call,
   * running tools and commands, and subagents stop, and the turn ends with stopReason
   * `cancelled`. A signal already aborted runs nothing.
   */
  signal?: AbortSignal;
}

/** One audited tool call. */
export interface AuditEntry {
  /** When the call finished, in epoch milliseconds. */
  at: number;
  /** The session that made the call. */
  sessionId: string;
  /** The model's id for the tool call. */
  callId: string;
  /** The tool's name. */
  tool: string;
  /** The arguments the model passed (secrets redacted in the durable audit log). */
  input: Record<string, unknown>;
  /** What the permission check, safeclaw's tool-call check and hooks decided: allowed, asked and allowed or denied, denied (by a rule, or by safeclaw: `rule` is then `safeclaw(<reasons>)`), blocked by a hook, or an invalid call (unknown tool, bad arguments). */
  decision: "allow" | "ask-allowed" | "ask-denied" | "deny" | "blocked-by-hook" | "invalid";
  /** The permission rule that decided, when one matched; `safeclaw(<reasons>)` when safeclaw's tool-call check did. */
  rule?: string;
  /** True when the tool failed or the call was refused. */
  isError: boolean;
  /** How long the call took, in milliseconds. */
  durationMs: number;
  /** Labels of the secrets and PII the result carried (taint tracking). */
  tainted: string[];
}

/** True for a provider's "prompt longer than the context" refusal. */
function isContextOverflow(error: unknown): boolean {
  const status = error instanceof ProviderError
    ? error.status
    : (error as { status?: number })?.status;
  return status === 400 &&
    /context|too long|maximum.*tokens/i.test((error as Error)?.message ?? "");
}

/** Windows this small get compact tool schemas, so prompt and tools fit. */
const COMPACT_CONTEXT = 2048;

/**
 * A tool spec for a small model: the first sentence of the description and only the required
 * parameters, without defaults. Validation still accepts the optional ones.
 */
export function compactToolSpec(spec: ToolSpec): ToolSpec {
  const params = spec.parameters as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const required = params.required ?? [];
  const properties: Record<string, unknown> = {};
  for (const name of required) {
    const { default: _def, ...rest } = params.properties?.[name] ?? {};
    properties[name] = rest;
  }
  return {
    name: spec.name,
    description: spec.description.split(/(?<=\.)\s/)[0].slice(0, 80),
    parameters: { type: "object", properties, required },
  };
}

/** The tool-call slots a subagent's session shares with its parent, by the options it was opened with. */
const sharedSlots = new WeakMap<SessionOptions, ToolSlots>();

/** What one call does: `effectOf` where the tool's effect depends on its input (`memory`), its effect otherwise. */
function effectOf(tool: Tool, input: Record<string, unknown>): ToolEffect {
  return tool.effectOf?.(input) ?? tool.effect;
}

function abortError(signal: AbortSignal): boolean {
  return signal.aborted;
}

/**
 * One session. Created by `agent.session()`; turns run one at a time.
 *
 * @example
 * ```ts ignore
 * const session = agent.session();
 * for await (const event of session.stream("list the files")) {
 *   if (event.type === "text") console.log(event.delta);
 * }
 * ```
 */
export class AgentSession {
  /** The session's id (`ses_...`); pass it as `id` in SessionOptions to resume. */
  readonly id: string;
  /** Every tool call of this session, in order. */
  readonly audit: AuditEntry[] = [];
  readonly #runtime: AgentRuntime;
  readonly #options: SessionOptions;
  readonly #messages: Message[] = [];
  readonly #guard: SessionGuard;
  readonly #policy: PermissionPolicy;
  readonly #model: ResolvedModel;
  /** The session's model as `provider/model`, and whether it runs on this machine. */
  readonly #modelRef: string;
  readonly #modelLocal: boolean;
  /** Set once a turn was local-only (or by the options): it never goes back. */
  #localOnly: boolean;
  readonly #tools: Map<string, Tool>;
  #todos: TodoItem[] = [];
  /** Skills loaded in this session; each gets a SkillUnload when the session ends. */
  readonly #loadedSkills = new Set<string>();
  #turn = 0;
  #running: AbortController | undefined;
  #created = false;
  #total: Usage = { inputTokens: 0, outputTokens: 0 };
  #emit: (event: AgentEvent) => void = () => {};
  #persisted = 0;
  /** The model's prompt tokens per counted token, learned from usage: tokenizers differ. */
  #tokenRatio = 1;
  /** This session's own workspace and sandbox, where the agent's sandbox keeps sessions apart. */
  #env: SessionEnvironment | undefined;
  /** This session's view of memory, once asked for (a namespace's, or the agent's). */
  #memoryView: { memory: MemoryAccess | undefined } | undefined;
  /** How many of this session's tool calls (its subagents' included) run at once. */
  readonly #slots: ToolSlots;

  /** Opens a session on an agent's runtime; `Agent.session()` is the usual way to get one. */
  constructor(runtime: AgentRuntime, options: SessionOptions = {}) {
    this.#runtime = runtime;
    this.#options = options;
    this.id = options.id ?? `ses_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const own = options.permissions
      ? PermissionPolicy.fromConfig({ ...runtime.config.permissions, ...options.permissions })
      : runtime.policy;
    this.#policy = options.outerPolicy && options.outerPolicy !== own
      ? own.within(options.outerPolicy)
      : own;
    this.#slots = sharedSlots.get(options) ??
      new ToolSlots(
        options.maxParallelTools ?? runtime.maxParallelTools ?? DEFAULT_MAX_PARALLEL_TOOLS,
      );
    this.#model = runtime.resolveModel(options.model);
    this.#modelRef = options.model ?? runtime.config.default_model;
    this.#modelLocal = modelIsLocal(runtime.config, this.#modelRef);
    this.#localOnly = options.localOnly ?? false;
    const s = runtime.config.safeclaw;
    this.#guard = new SessionGuard({
      enabled: s.enabled,
      taint: s.taint,
      injection: s.injection,
      allowTaintedEgress: s.allow_tainted_egress,
      classifier: runtime.classifier,
      maskToolOutput: s.tool_output === "mask" ||
        (s.tool_output === "mask_remote" && !this.#modelLocal),
      inspector: runtime.toolOutputInspector,
      session: options.guardSession ?? this.id,
      toolCalls: {
        onTainted: s.tool_calls.on_tainted,
        onExfiltration: s.tool_calls.on_exfiltration,
        allowHosts: s.tool_calls.allow_hosts,
      },
      toolCallInspector: options.toolCallInspector ?? runtime.toolCallInspector,
    });
    const allowed = options.tools ? new Set(options.tools) : undefined;
    this.#tools = new Map([...runtime.tools].filter(([name]) => !allowed || allowed.has(name)));
    if (options.messages) {
      this.#messages.push(...options.messages);
      this.#persisted = options.messages.length;
      this.#created = true;
    }
  }

  /**
   * Where this session's tools work: its own workspace and box where the agent's sandbox keeps
   * sessions apart (made on first use), the agent's otherwise.
   */
  #environment(): SessionEnvironment {
    const rt = this.#runtime;
    if (!rt.sandbox.forSession) return { workspace: rt.workspace, sandbox: rt.sandbox };
    this.#env ??= rt.sandbox.forSession(this.#options.sandboxKey ?? this.id);
    return this.#env;
  }

  /**
   * This session's memory: its namespace's when it has one, the agent's otherwise. A memory
   * that cannot keep namespaces apart is off for a namespaced session rather than shared.
   */
  #memory(): MemoryAccess | undefined {
    const rt = this.#runtime;
    const namespace = this.#options.memoryNamespace;
    this.#memoryView ??= {
      memory: namespace === undefined ? rt.memory : rt.memory?.inNamespace?.(namespace),
    };
    const memory = this.#memoryView.memory;
    // A local-only session's memories are not sent to an embedding model off this machine:
    // keyword search only (no memory at all when it cannot do without its embedder).
    if (this.#localOnly && rt.embeddingsLocal === false) return memory?.keywordOnly?.();
    return memory;
  }

  /** The conversation so far (system prompt first). */
  get history(): readonly Message[] {
    return this.#messages;
  }

  /** The current todo list. */
  get todos(): readonly TodoItem[] {
    return this.#todos;
  }

  /** Token usage over all turns. */
  get usage(): Usage {
    return { ...this.#total };
  }

  /** True while a turn runs. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** True once the session's data may only go to models on this machine (`localOnly`). */
  get localOnly(): boolean {
    return this.#localOnly;
  }

  /**
   * The model for one model call of this session: each step of a turn, compaction and a plan
   * take it here, and a subagent's session before it starts, so this is the one place a
   * local-only session's calls are checked. Throws {@linkcode LocalOnlyError} when the session
   * is local-only and its model runs off this machine (no provider is called).
   */
  modelForCall(): ResolvedModel {
    if (this.#localOnly && !this.#modelLocal) throw new LocalOnlyError(this.#modelRef);
    return this.#model;
  }

  /** Aborts the running turn (model call and tools); it ends with stopReason `cancelled`. */
  cancel(): boolean {
    if (!this.#running) return false;
    this.#running.abort(new DOMException("cancelled", "AbortError"));
    return true;
  }

  /** Runs a turn and returns its result. */
  async send(prompt: string, options: TurnOptions = {}): Promise<TurnResult> {
    let result: TurnResult | undefined;
    for await (const event of this.stream(prompt, options)) {
      if (event.type === "done") result = event.result;
    }
    return result!;
  }

  /**
   * Runs a turn, yielding its events; the last one is `done`. Breaking out cancels the turn, as
   * `options.signal` does.
   */
  async *stream(prompt: string, options: TurnOptions = {}): AsyncGenerator<AgentEvent> {
    if (this.#running) {
      throw new A3sError("session_busy", `session ${this.id} is busy with another turn`, {
        status: 409,
        field: "session",
      });
    }
    // The history is about to hold the turn's data: every later turn stays local-only too.
    if (options.localOnly) this.#localOnly = true;
    const controller = new AbortController();
    this.#running = controller;
    const external = options.signal;
    const onExternalAbort = () =>
      controller.abort(external?.reason ?? new DOMException("cancelled", "AbortError"));
    if (external?.aborted) onExternalAbort();
    else external?.addEventListener("abort", onExternalAbort, { once: true });
    const channel = new EventChannel<AgentEvent>();
    this.#emit = (e) => channel.push(e);
    const work = this.#runTurn(prompt, controller.signal).then(
      (result) => channel.push({ type: "done", result }),
      (error) => {
        const message = (error as Error)?.message ?? String(error);
        channel.push({ type: "error", code: "turn_failed", message });
        channel.push({
          type: "done",
          result: {
            text: "",
            stopReason: "error",
            steps: 0,
            toolCalls: 0,
            usage: { inputTokens: 0, outputTokens: 0 },
            error: message,
          },
        });
      },
    ).finally(() => {
      external?.removeEventListener("abort", onExternalAbort);
      this.#running = undefined;
      channel.close();
    });
    let finished = false;
    try {
      for await (const event of channel) {
        yield event;
        if (event.type === "done") finished = true;
      }
    } finally {
      if (!finished) controller.abort(new DOMException("cancelled", "AbortError"));
      await work;
    }
  }

  /**
   * Runs one tool call outside a model turn, through the same validation, permissions, hooks,
   * guard and audit (the MCP server and `batch` use this).
   */
  async callTool(
    name: string,
    input: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<ToolResult> {
    const call = { id: `call_${crypto.randomUUID().slice(0, 12)}`, name, arguments: input };
    return await this.#executeCall(call, signal ?? new AbortController().signal);
  }

  /** The tools this session offers, as the model sees them. */
  get toolSpecs(): ToolSpec[] {
    return this.#toolSpecs();
  }

  /** Appends to history and persists what is new. */
  async #append(message: Message): Promise<void> {
    this.#messages.push(message);
    await this.#persist();
  }

  async #persist(): Promise<void> {
    if (this.#options.ephemeral) return;
    const history = this.#runtime.history;
    if (!this.#created) {
      const firstUser = this.#messages.find((m) => m.role === "user");
      await history.create(this.id, this.#runtime.name, firstUser?.content.slice(0, 120) ?? "");
      this.#created = true;
    }
    for (; this.#persisted < this.#messages.length; this.#persisted++) {
      await history.append(this.id, this.#persisted, this.#messages[this.#persisted]);
    }
  }

  #toolSpecs(): ToolSpec[] {
    const specs = [...this.#tools.values()].map((t) => ({
      name: t.name,
      description: t.description,
      parameters: t.parameters,
    }));
    return this.#model.config.context_window <= COMPACT_CONTEXT
      ? specs.map(compactToolSpec)
      : specs;
  }

  async #runTurn(prompt: string, signal: AbortSignal): Promise<TurnResult> {
    const rt = this.#runtime;
    const usage: Usage = { inputTokens: 0, outputTokens: 0 };
    // Cancelled before it started (a chat whose socket closed while the turn was queued).
    if (signal.aborted) return { text: "", stopReason: "cancelled", steps: 0, toolCalls: 0, usage };
    const turn = ++this.#turn;
    let steps = 0;
    let toolCalls = 0;
    const finish = async (
      text: string,
      stopReason: StopReason,
      error?: string,
    ): Promise<TurnResult> => {
      const out = this.#guard.sanitizeOutput(text);
      if (out.redacted) {
        this.#emit({
          type: "guard",
          source: "output",
          labels: ["tainted"],
          injection: false,
          redacted: out.redacted,
        });
      }
      const end = await rt.hooks.run("GenerateEnd", this.id, { text: out.text, stopReason });
      const finalText = typeof end.data.text === "string" ? end.data.text : out.text;
      return { text: finalText, stopReason, steps, toolCalls, usage, ...(error ? { error } : {}) };
    };

    if (!this.#messages.length) {
      const system = buildSystemPrompt(
        rt,
        [...this.#tools.keys()],
        this.#model.config.context_window,
        this.#options.systemPrompt,
        () => this.#environment(),
      );
      this.#messages.push({ role: "system", content: system });
      const start = await rt.hooks.run("SessionStart", this.id, {
        agent: rt.name,
        model: this.#model.model,
      });
      if (start.blocked) {
        return await finish("", "blocked", `session blocked by hook: ${start.blocked.reason}`);
      }
    }

    const gen = await rt.hooks.run("GenerateStart", this.id, { prompt, turn });
    if (gen.blocked) {
      return await finish("", "blocked", `prompt blocked by hook: ${gen.blocked.reason}`);
    }
    const userText = typeof gen.data.prompt === "string" ? gen.data.prompt : prompt;
    const inspected = this.#guard.inspectToolResult(userText, "user");
    if (inspected.tainted.length) {
      this.#emit({ type: "guard", source: "prompt", labels: inspected.tainted, injection: false });
    }
    this.#emit({ type: "turn_start", sessionId: this.id, turn, prompt: userText });
    await this.#append({ role: "user", content: userText });

    const maxSteps = this.#options.maxSteps ?? rt.config.max_steps;
    const tools = this.#toolSpecs();
    let lastText = "";
    let overflowRetried = false;
    while (steps < maxSteps) {
      if (signal.aborted) return await finish(lastText, "cancelled");
      let model: ResolvedModel;
      try {
        model = this.modelForCall();
      } catch (error) {
        if (!(error instanceof LocalOnlyError)) throw error;
        // Policy, not a failure: the turn ends before anything is sent to the remote model.
        this.#emit({ type: "error", code: error.code, message: error.message });
        return await finish(lastText, "blocked", error.message);
      }
      await this.#maybeCompact(tools, signal);
      steps++;
      let text = "";
      const calls: ToolCall[] = [];
      const inputBefore = usage.inputTokens;
      try {
        const stream = model.provider.stream({
          model: model.model,
          messages: this.#messages,
          tools,
          maxTokens: model.config.max_tokens,
          temperature: model.config.temperature,
          signal,
        });
        for await (const event of stream) {
          if (event.type === "text") {
            text += event.delta;
            this.#emit({ type: "text", delta: event.delta });
          } else if (event.type === "tool_call") calls.push(event.call);
          else if (event.type === "usage") {
            usage.inputTokens += event.usage.inputTokens;
            usage.outputTokens += event.usage.outputTokens;
            this.#total.inputTokens += event.usage.inputTokens;
            this.#total.outputTokens += event.usage.outputTokens;
            this.#emit({ type: "usage", usage: event.usage, total: { ...this.#total } });
          }
        }
      } catch (error) {
        if (abortError(signal)) {
          if (text) await this.#append({ role: "assistant", content: text });
          return await finish(text, "cancelled");
        }
        const message = (error as Error).message;
        // Our count undershot the model's tokenizer: trim harder and retry this step once.
        if (!text && !calls.length && !overflowRetried && isContextOverflow(error)) {
          overflowRetried = true;
          const count = await tokenCounter();
          const window = this.#model.config.context_window;
          this.#tokenRatio = Math.min(3, this.#tokenRatio * 1.25);
          const before = countRequest(count, this.#messages, tools, this.#tokenRatio);
          await this.#dropOldTurns(
            count,
            tools,
            Math.floor(window * 0.7),
            before,
            this.#tokenRatio,
          );
          steps--;
          continue;
        }
        this.#emit({ type: "error", code: "model_failed", message });
        return await finish(lastText, "error", message);
      }
      overflowRetried = false;
      lastText = text;
      await this.#calibrate(tools, usage.inputTokens - inputBefore);
      await this.#append({
        role: "assistant",
        content: text,
        ...(calls.length ? { toolCalls: calls } : {}),
      });
      if (!calls.length) return await finish(text, "end");
      toolCalls += calls.length;
      // Calls of one reply are independent by contract, so they run together: as many at once
      // as the session's slots, in order (the rest wait their turn, approvals included).
      const results = await this.#executeAll(calls, signal);
      for (let i = 0; i < calls.length; i++) {
        await this.#append({
          role: "tool",
          toolCallId: calls[i].id,
          name: calls[i].name,
          content: results[i].content,
          isError: results[i].isError,
        });
      }
      if (signal.aborted) return await finish(lastText, "cancelled");
    }
    return await finish(lastText, "max_steps");
  }

  /** Runs the calls of one reply, at most as many at once as the session has slots; results in order. */
  async #executeAll(calls: ToolCall[], signal: AbortSignal): Promise<ToolResult[]> {
    const results: ToolResult[] = new Array(calls.length);
    let next = 0;
    const worker = async () => {
      while (next < calls.length) {
        const i = next++;
        results[i] = await this.#executeCall(calls[i], signal);
      }
    };
    const workers = Math.min(calls.length, Math.max(1, this.#slots.limit));
    await Promise.all(Array.from({ length: workers }, worker));
    return results;
  }

  /**
   * What the rules match for a call: each subject the tool names (a patch may touch several
   * files; a tool may return one subject, a list of them, or none), paths relative to the
   * workspace so rules like `read(src/**)` match. Free-text subjects (a command, a URL, a
   * memory) are kept as they are.
   */
  #subjectsOf(tool: Tool, input: Record<string, unknown>): string[] {
    // Typed as strings; a custom tool that returns a list from `subject` is read as one too.
    const raw: unknown = tool.subjects ? tool.subjects(input) : tool.subject(input);
    const subjects = (Array.isArray(raw) ? raw : [raw]).filter((s): s is string =>
      typeof s === "string"
    );
    const effect = effectOf(tool, input);
    if (!["read", "write"].includes(effect) || !subjectIsPath(tool.name)) return subjects;
    return subjects.map((subject) => this.#workspacePath(subject));
  }

  /** `path` relative to the session's workspace, as rules name paths. */
  #workspacePath(path: string): string {
    try {
      const { workspace } = this.#environment();
      return workspace.relative(workspace.resolve(path));
    } catch {
      // A path that escapes, or one the OS refuses (a name too long, a symlink loop), keeps its
      // raw form for the rules; the tool meets the same refusal and reports it to the model.
      return path;
    }
  }

  /** Runs one call through validation, permissions, hooks, the tool, the guard and the audit. */
  async #executeCall(call: ToolCall, signal: AbortSignal, nested = false): Promise<ToolResult> {
    const rt = this.#runtime;
    const started = performance.now();
    if (!nested) {
      this.#emit({ type: "tool_start", callId: call.id, tool: call.name, input: call.arguments });
    }
    const done = async (
      result: ToolResult,
      decision: AuditEntry["decision"],
      input: Record<string, unknown>,
      rule?: string,
      tainted: string[] = [],
    ): Promise<ToolResult> => {
      const entry: AuditEntry = {
        at: Date.now(),
        sessionId: this.id,
        callId: call.id,
        tool: call.name,
        input,
        decision,
        rule,
        isError: result.isError,
        durationMs: Math.round(performance.now() - started),
        tainted,
      };
      this.audit.push(entry);
      // The durable trail: secrets in the arguments are redacted before they are stored.
      await this.#runtime.auditLog?.record({
        ...entry,
        input: this.#guard.redactValues(entry.input),
      });
      if (!nested) {
        this.#emit({
          type: "tool_end",
          callId: call.id,
          tool: call.name,
          output: result.content,
          isError: result.isError,
          truncated: result.truncated,
          durationMs: result.durationMs,
        });
      }
      return result;
    };
    const fail = (content: string, decision: AuditEntry["decision"], rule?: string) =>
      done(
        {
          content: `Error: ${content}`,
          isError: true,
          truncated: false,
          durationMs: performance.now() - started,
        },
        decision,
        call.arguments,
        rule,
      );

    const tool = this.#tools.get(call.name);
    if (!tool) {
      return fail(
        `unknown tool '${call.name}'; available: ${[...this.#tools.keys()].join(", ")}`,
        "invalid",
      );
    }
    if (call.invalidArguments !== undefined) {
      return fail(
        `arguments for ${call.name} are not a JSON object: ${call.invalidArguments.slice(0, 200)}`,
        "invalid",
      );
    }
    let checked = tool.validate(call.arguments);
    if (!checked.ok) return fail(checked.error.replace(/^invalid/, "invalid"), "invalid");
    let input = checked.input;

    const subjects = this.#subjectsOf(tool, input);
    const subject = subjects.length ? subjects.join(", ") : undefined;
    const decision = this.#policy.decide(
      tool.name,
      subjects.length > 1 ? subjects : subjects[0],
      effectOf(tool, input),
      { readScript: this.#scriptReader(input) },
    );
    let auditDecision: AuditEntry["decision"] = "allow";
    let auditRule = decision.rule;
    if (decision.action === "deny") {
      return fail(
        `permission denied for ${tool.name}${subject ? `(${subject})` : ""}${
          decision.rule ? ` by rule ${decision.rule}` : ""
        }`,
        "deny",
        decision.rule,
      );
    }
    // safeclaw's tool-call check: exfiltration patterns and tainted values in the arguments.
    const guardRule = (v: ToolCallVerdict) => `safeclaw(${v.reasons.join("; ")})`;
    let verdict = await this.#checkToolCall(tool, input);
    if (verdict.decision === "block") {
      return fail(blockedMessage(tool.name, verdict.reasons), "deny", guardRule(verdict));
    }
    /** Asks the approver; a call safeclaw holds is refused without an answer in time. */
    const approve = async (rule: string | undefined, held: ToolCallVerdict | undefined) => {
      const reasons = held?.reasons;
      this.#emit({
        type: "approval_request",
        callId: call.id,
        tool: tool.name,
        input,
        rule,
        ...(reasons ? { reasons } : {}),
      });
      const perms = rt.config.permissions;
      const answer = await requestApproval(
        this.#options.approver ?? rt.approver,
        { callId: call.id, tool: tool.name, input, subject, rule, ...(reasons ? { reasons } : {}) },
        perms.approval_timeout_ms,
        held ? "deny" : perms.timeout_action,
        signal,
      );
      this.#emit({
        type: "approval_result",
        callId: call.id,
        allowed: answer.allowed,
        timedOut: answer.timedOut,
      });
      return answer;
    };
    let guardApproved = false;
    if (decision.action === "ask" || verdict.decision === "approve") {
      const held = verdict.decision === "approve" ? verdict : undefined;
      const rule = [decision.action === "ask" ? decision.rule : undefined, held && guardRule(held)]
        .filter(Boolean).join(", ") || undefined;
      const answer = await approve(rule, held);
      if (!answer.allowed) {
        return fail(
          `the user did not approve ${tool.name}${answer.timedOut ? " (no answer in time)" : ""}${
            held ? ` (safeclaw held it: ${held.reasons.join("; ")})` : ""
          }`,
          "ask-denied",
          rule,
        );
      }
      guardApproved = held !== undefined;
      auditDecision = "ask-allowed";
      auditRule = rule;
    }

    const pre = await rt.hooks.run("PreToolUse", this.id, { callId: call.id, input }, tool.name);
    if (pre.blocked) return fail(`blocked by hook: ${pre.blocked.reason}`, "blocked-by-hook");
    if (pre.data.input !== input) {
      checked = tool.validate(pre.data.input);
      if (!checked.ok) {
        return fail(`a hook changed the input into something invalid: ${checked.error}`, "invalid");
      }
      input = checked.input;
      // What runs is checked, not only what the model asked for.
      verdict = await this.#checkToolCall(tool, input);
      if (verdict.decision === "block") {
        return fail(blockedMessage(tool.name, verdict.reasons), "deny", guardRule(verdict));
      }
      if (verdict.decision === "approve" && !guardApproved) {
        const answer = await approve(guardRule(verdict), verdict);
        if (!answer.allowed) {
          return fail(
            `the user did not approve ${tool.name} (safeclaw held it: ${
              verdict.reasons.join("; ")
            })`,
            "ask-denied",
            guardRule(verdict),
          );
        }
        auditDecision = "ask-allowed";
        auditRule = guardRule(verdict);
      }
    }

    const env = this.#environment();
    // A session folder over its quota takes no more writes; `bash` still runs, to delete files.
    const effect = effectOf(tool, input);
    const quota = effect === "write" ? env.quota : undefined;
    const over = await quota?.exceeded();
    if (over) {
      return fail(
        `${over}: delete files (for example bash rm) to get under it before writing more`,
        "deny",
        "workspace_quota",
      );
    }
    let slot: ToolSlot;
    try {
      slot = await this.#slots.acquire(signal);
    } catch {
      return done(
        {
          content: `Error: ${tool.name} cancelled`,
          isError: true,
          truncated: false,
          durationMs: performance.now() - started,
        },
        auditDecision,
        input,
        auditRule,
      );
    }
    let result: ToolResult;
    try {
      result = await runTool(tool, input, {
        workspace: env.workspace,
        sandbox: env.sandbox,
        callId: call.id,
        services: this.#services(signal, slot),
        signal,
      }, { timeoutMs: rt.config.tools.timeout_ms, outputLimit: this.#outputLimit() });
    } finally {
      slot.release();
    }
    const overNow = await quota?.measure();
    if (overNow) {
      result = {
        ...result,
        content:
          `${result.content}\n[a3s: ${overNow}. The file tools are refused and files cannot grow until you delete files (bash rm) to get under it.]`,
      };
    }

    // The one check every session path shares before the model reads a tool's output.
    // Fetched and searched text is web content; the rest came from tools.
    const guarded = await this.#guard.checkToolOutput(
      result.content,
      tool.name,
      effect === "network" ? "web" : "tool_result",
    );
    if (guarded.tainted.length || guarded.injection) {
      this.#emit({
        type: "guard",
        source: "tool_result",
        labels: guarded.tainted,
        injection: guarded.injection,
      });
    }
    let content = guarded.text;
    const post = await rt.hooks.run("PostToolUse", this.id, {
      callId: call.id,
      input,
      output: content,
      isError: result.isError,
    }, tool.name);
    if (post.blocked) content = `[output withheld by hook: ${post.blocked.reason}]`;
    else if (typeof post.data.output === "string") content = post.data.output;
    return done({ ...result, content }, auditDecision, input, auditRule, guarded.tainted);
  }

  /** safeclaw's verdict on a call, for the tools that run commands or reach the network. */
  async #checkToolCall(tool: Tool, input: Record<string, unknown>): Promise<ToolCallVerdict> {
    if (!toolCallChecked(effectOf(tool, input))) return { decision: "allow", reasons: [] };
    return await this.#guard.checkToolCall(tool.name, input, {
      readScript: this.#scriptReader(input),
    });
  }

  /** Reads the scripts a command of this call runs, from its folder in the workspace. */
  #scriptReader(input: Record<string, unknown>): (path: string) => string | undefined {
    const cwd = typeof input.cwd === "string" ? input.cwd : ".";
    let read: ((path: string) => string | undefined) | undefined;
    return (path) => {
      read ??= workspaceScriptReader(this.#environment().workspace, cwd);
      return read(path);
    };
  }

  /** Characters of a tool result kept: small windows keep a quarter as many characters as the window has tokens. */
  #outputLimit(): number {
    const window = this.#model.config.context_window;
    const limit = this.#runtime.config.tools.output_limit;
    return window <= COMPACT_CONTEXT
      ? Math.min(limit, Math.max(128, Math.floor(window / 4)))
      : limit;
  }

  /**
   * What the call holding `slot` may reach; the calls it makes itself (`batch`, `task`) give its
   * slot back while they run.
   */
  #services(signal: AbortSignal, slot?: ToolSlot): ToolServices {
    const rt = this.#runtime;
    const nested = <T>(work: () => Promise<T>) => slot ? slot.yieldDuring(work) : work();
    return {
      getTodos: () => this.#todos,
      setTodos: (items) => {
        this.#todos = items.map((t) => ({ ...t }));
        this.#emit({ type: "todos", todos: this.#todos });
      },
      listSkills: () => rt.skills.list().map((s) => ({ name: s.name, description: s.description })),
      loadSkill: async (name) => {
        const body = await rt.skills.load(name);
        if (body !== undefined) {
          const hook = await rt.hooks.run("SkillLoad", this.id, { skill: name });
          if (hook.blocked) return `Skill ${name} was not loaded: ${hook.blocked.reason}`;
          this.#loadedSkills.add(name);
        }
        return body;
      },
      memory: this.#memory(),
      search: rt.search,
      runSubagent: (agent, prompt, s) => nested(() => this.runSubagent(agent, prompt, s)),
      subagentNames: () => [...rt.subagents.keys()],
      runToolCall: (name, input, s) =>
        nested(() =>
          this.#executeCall(
            { id: `${name}_${crypto.randomUUID().slice(0, 8)}`, name, arguments: input },
            AbortSignal.any([s, signal]),
            true,
          )
        ),
      checkEgress: (text, channel) => this.#guard.checkEgress(text, channel),
      fetchUrl: (url, s) => rt.fetchUrl(url, s),
      // What `read(path)` rules would say, for the files a search shows (grep, glob).
      mayRead: (path) => this.#policy.mayRead(this.#workspacePath(path)),
      // What outlives the session (a saved memory) keeps no secret nor tainted value.
      redact: (text) => this.#guard.redactText(text),
    };
  }

  /**
   * Runs subagent `name` on `prompt` in an isolated context and returns its final summary; its
   * events stream as `subagent` events of this session.
   */
  async runSubagent(name: string, prompt: string, signal: AbortSignal): Promise<string> {
    const def = this.#runtime.subagents.get(name);
    if (!def) throw new Error(`no subagent '${name}'`);
    // Never a tool this session does not have itself: a subagent narrows, it does not widen.
    const all = [...this.#tools.keys()];
    const tools = (def.tools ?? all.filter((t) => t !== "task")).filter((t) => this.#tools.has(t));
    const childOptions: SessionOptions = {
      model: def.model ?? this.#options.model,
      systemPrompt: def.prompt || undefined,
      tools,
      maxSteps: def.maxSteps,
      approver: this.#options.approver,
      // Its own overrides, held to this session's permissions (overrides included) as well.
      permissions: def.permissions,
      outerPolicy: this.#policy,

      ephemeral: true,
      // Its tool output counts toward this session's (or this chat's) safeclaw session.
      guardSession: this.#options.guardSession ?? this.id,
      toolCallInspector: this.#options.toolCallInspector,
      // It works in this session's box and workspace, and remembers in its memory.
      sandboxKey: this.#options.sandboxKey ?? this.id,
      memoryNamespace: this.#options.memoryNamespace,
      // A local-only conversation stays local in its subagents.
      localOnly: this.#localOnly,
    };
    // Its calls count toward this session's limit of calls at once.
    sharedSlots.set(childOptions, this.#slots);
    const child = new AgentSession(this.#runtime, childOptions);
    try {
      // Refused before it starts (no hook, no box, no request) when its model is remote.
      child.modelForCall();
    } catch (error) {
      if (!(error instanceof LocalOnlyError)) throw error;
      throw new LocalOnlyError(error.model, `subagent ${name} was not started`);
    }
    const onAbort = () => child.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    let result: TurnResult | undefined;
    try {
      for await (const event of child.stream(prompt)) {
        this.#emit({ type: "subagent", agent: name, event });
        if (event.type === "done") result = event.result;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    this.audit.push(...child.audit);
    if (!result || result.stopReason === "error") {
      throw new Error(`subagent ${name} failed: ${result?.error ?? "no result"}`);
    }
    if (result.stopReason === "cancelled") throw new Error(`subagent ${name} was cancelled`);
    const note = result.stopReason === "max_steps"
      ? `\n(subagent stopped at its step limit of ${def.maxSteps})`
      : "";
    return (result.text.trim() || "(the subagent gave no summary)") + note;
  }

  /**
   * Compaction: when the request would fill the window past the threshold, older messages are
   * summarized by the model into one message; the system prompt and recent messages stay.
   */
  async #maybeCompact(tools: ToolSpec[], signal: AbortSignal): Promise<void> {
    const rt = this.#runtime;
    // The summary call sends the conversation too: the same check as every other call.
    const model = this.modelForCall();
    const count = await tokenCounter();
    const window = this.#model.config.context_window;
    const budget = Math.floor(window * rt.config.compaction.threshold) -
      this.#model.config.max_tokens;
    const ratio = this.#tokenRatio;
    const before = countRequest(count, this.#messages, tools, ratio);
    if (before <= Math.max(budget, 0) || this.#messages.length < 4) return;
    // When the system prompt and tools alone fill the budget (tiny windows), there is no room
    // for a summary: drop whole older turns until the request fits the window itself.
    if (countRequest(count, this.#messages.slice(0, 1), tools, ratio) >= budget) {
      await this.#dropOldTurns(count, tools, window - 48, before, ratio);
      return;
    }
    // Cut before a user message so no tool result is separated from its call.
    let cut = Math.max(1, this.#messages.length - rt.config.compaction.keep_recent);
    while (cut > 1 && this.#messages[cut].role !== "user") cut--;
    if (cut <= 1) {
      cut = this.#messages.length - 1;
      while (cut > 1 && this.#messages[cut].role === "tool") cut--;
      if (cut <= 1) return;
    }
    const old = this.#messages.slice(1, cut);
    const transcript = old.map((m) => {
      if (m.role === "tool") return `[${m.name} result] ${m.content.slice(0, 1500)}`;
      if (m.role === "assistant" && m.toolCalls?.length) {
        return `assistant: ${m.content} ${
          m.toolCalls.map((c) => `[called ${c.name} ${JSON.stringify(c.arguments).slice(0, 300)}]`)
            .join(" ")
        }`;
      }
      return `${m.role}: ${m.content.slice(0, 3000)}`;
    }).join("\n");
    let summary: string;
    try {
      let text = "";
      for await (
        const e of model.provider.stream({
          model: model.model,
          messages: [
            {
              role: "system",
              content:
                "Summarize this conversation so far for the agent that continues it: the task, decisions, files touched, results, and what is left. Be brief.",
            },
            { role: "user", content: transcript.slice(-Math.max(2000, window * 2)) },
          ],
          maxTokens: Math.min(512, model.config.max_tokens),
          signal,
        })
      ) if (e.type === "text") text += e.delta;
      summary = text.trim() || transcript.slice(-1000);
    } catch {
      if (signal.aborted) return;
      // Without a summary, keep the tail of the transcript: less context beats a failed turn.
      summary = transcript.slice(-Math.max(500, window));
    }
    this.#messages.splice(1, cut - 1, {
      role: "user",
      content: `[Summary of the earlier conversation]\n${summary}`,
    });
    if (!this.#options.ephemeral && this.#created) {
      await rt.history.replace(this.id, this.#messages);
      this.#persisted = this.#messages.length;
    }
    this.#emit({
      type: "compaction",
      removedMessages: old.length,
      tokensBefore: before,
      tokensAfter: countRequest(count, this.#messages, tools, ratio),
    });
  }

  /** Learns how the model's token counts compare with ours, from a call's real prompt size. */
  async #calibrate(tools: ToolSpec[], actualPromptTokens: number): Promise<void> {
    if (actualPromptTokens <= 0) return;
    const count = await tokenCounter();
    const estimated = countRequest(count, this.#messages, tools);
    if (estimated > 0) this.#tokenRatio = Math.max(1, Math.min(3, actualPromptTokens / estimated));
  }

  async #dropOldTurns(
    count: (text: string) => number,
    tools: ToolSpec[],
    limit: number,
    before: number,
    ratio: number,
  ): Promise<void> {
    const lastUser = this.#messages.findLastIndex((m) => m.role === "user");
    let removed = 0;
    while (countRequest(count, this.#messages, tools, ratio) > limit) {
      const next = this.#messages.findIndex((m, i) => i > 1 && m.role === "user");
      const end = next < 0 || next > lastUser - removed ? -1 : next;
      if (end < 0) break;
      removed += end - 1;
      this.#messages.splice(1, end - 1);
    }
    // Still too long within the current turn: shorten its longest tool results, replies and
    // (already executed) call arguments.
    const size = (m: Message) =>
      m.content.length + (m.role === "assistant" ? JSON.stringify(m.toolCalls ?? []).length : 0);
    const half = (text: string) =>
      text.length > 40 ? `${text.slice(0, Math.floor(text.length / 2))}[...]` : text;
    for (let i = 0; i < 12 && countRequest(count, this.#messages, tools, ratio) > limit; i++) {
      let longest = -1;
      this.#messages.forEach((m, k) => {
        if (
          (m.role === "tool" || m.role === "assistant") && size(m) > 60 &&
          (longest < 0 || size(m) > size(this.#messages[longest]))
        ) {
          longest = k;
        }
      });
      if (longest < 0) break;
      const m = this.#messages[longest];
      if (m.role === "assistant") {
        this.#messages[longest] = {
          ...m,
          content: half(m.content),
          toolCalls: m.toolCalls?.map((c) => ({
            ...c,
            arguments: Object.fromEntries(
              Object.entries(c.arguments).map(([k, v]) => [k, typeof v === "string" ? half(v) : v]),
            ),
          })),
        };
      } else this.#messages[longest] = { ...m, content: half(m.content) } as Message;
      removed++;
    }
    if (!removed) return;
    if (!this.#options.ephemeral && this.#created) {
      await this.#runtime.history.replace(this.id, this.#messages);
      this.#persisted = this.#messages.length;
    }
    this.#emit({
      type: "compaction",
      removedMessages: removed,
      tokensBefore: before,
      tokensAfter: countRequest(count, this.#messages, tools, ratio),
    });
  }

  /**
   * Ends the session: runs SessionEnd hooks and removes its own box, if it has one (its files
   * stay). History stays in the store for resume.
   */
  async close(): Promise<void> {
    this.cancel();
    if (this.#env) {
      this.#env = undefined;
      await this.#runtime.sandbox.releaseSession?.(this.#options.sandboxKey ?? this.id)
        .catch(() => {});
    }
    for (const skill of this.#loadedSkills) {
      await this.#runtime.hooks.run("SkillUnload", this.id, { skill });
    }
    this.#loadedSkills.clear();
    if (this.#messages.length) {
      await this.#runtime.hooks.run("SessionEnd", this.id, {
        turns: this.#turn,
        usage: this.#total,
      });
    }
  }

  /** Subagents this session may start. */
  subagentNames(): string[] {
    return [...this.#runtime.subagents.keys()];
  }

  /**
   * The session's model, to name it; a call to it takes {@linkcode modelForCall}, which
   * refuses a remote one in a local-only session.
   */
  get model(): ResolvedModel {
    return this.#model;
  }

  /** Emits an event into the running turn's stream (planner progress). */
  emit(event: AgentEvent): void {
    this.#emit(event);
  }

  /** Lets the planner stream outside a chat turn. */
  setEmitter(emit: (event: AgentEvent) => void): void {
    this.#emit = emit;
  }
}

export { TaintError };
