/**
 * Permissions in upstream's model: rules `tool(pattern)` evaluated deny → allow → ask →
 * default, presets, and an approval callback for `ask` with a timeout and a timeout action.
 */
import { globToRegExp } from "../runtime/glob.ts";
import type { PermissionsConfig } from "../config/schema.ts";
import type { ToolEffect } from "../tools/tool.ts";
import { type BashCommand, readBashCommands, type ScriptReader } from "./bash_commands.ts";

/** What a rule decides. */
export type PermissionAction = "allow" | "ask" | "deny";

/** A parsed rule: a tool-name glob and an optional subject glob. */
export interface PermissionRule {
  /** The rule as written, such as `bash(git *)`; decisions report it. */
  source: string;
  /** Matches the tool names the rule covers. */
  tool: RegExp;
  /** Matches the subjects (path, command, URL) it covers; any subject when unset. */
  subject?: RegExp;
  /**
   * For a rule on a command (`bash(rm -rf *)`): its program, the options it names (matched in
   * any order and spelling: `rm -fr`, `rm -r -f`, `rm --recursive --force`) and the rest.
   */
  command?: {
    /** Matches the program's name. */
    name: RegExp;
    /** Options the command must have, anywhere before `--`: `-r`, `-f`, `--force`. */
    flags: string[];
    /** Matches the rest of the command (its other options and operands, in order, space-joined). */
    rest: RegExp;
  };
}

/** A command rule read as a command: see {@linkcode PermissionRule.command}. */
type CommandShape = NonNullable<PermissionRule["command"]>;

/** Tools whose subject is free text (a command, a URL, a memory), where `*` crosses `/`. */
const TEXT_SUBJECTS = new Set([
  "bash",
  "web_fetch",
  "web_search",
  "task",
  "codesearch",
  "git_worktree",
  "load_skill",
  "search_skills",
  "memory",
  "todo",
  "batch",
]);

/** Tools whose subject is a shell command line: rules match each command it runs. */
const SHELL_SUBJECTS = new Set(["bash"]);

/**
 * Whether the subjects of tool `name` are paths (relative to the workspace, `*` stops at `/`),
 * rather than free text (a command, a URL) or nothing. Tools named `mcp__…` have no path
 * subjects.
 */
export function subjectIsPath(name: string): boolean {
  return !TEXT_SUBJECTS.has(name) && !name.startsWith("mcp__");
}

/** Options spelled another way, per program: each is matched as its usual short form. */
const OPTION_ALIASES: Record<string, Record<string, string>> = {
  rm: { "-R": "-r", "--recursive": "-r", "--force": "-f" },
  cp: { "-R": "-r", "--recursive": "-r", "--force": "-f" },
  mv: { "--force": "-f" },
  chmod: { "--recursive": "-R" },
  chown: { "--recursive": "-R" },
  chgrp: { "--recursive": "-R" },
};

function canonicalOption(program: string, option: string): string {
  const aliases = OPTION_ALIASES[program.slice(program.lastIndexOf("/") + 1)];
  return aliases && Object.hasOwn(aliases, option) ? aliases[option] : option;
}

/**
 * A command rule's pattern read as a command, when it is one: words without shell operators or
 * quotes. Its options without wildcards are order-free flags; the rest stays a pattern.
 */
function commandShape(pattern: string): CommandShape | undefined {
  if (/[|;&<>()`$"'\\\n]/.test(pattern)) return undefined;
  const [name, ...words] = pattern.trim().split(/\s+/);
  if (!name || name.startsWith("-")) return undefined;
  const flags: string[] = [];
  const rest: string[] = [];
  for (const word of words) {
    if (/^-[^-]/.test(word) && !/[*?[{]/.test(word)) {
      for (const letter of word.slice(1)) flags.push(canonicalOption(name, `-${letter}`));
    } else if (/^--./.test(word) && !/[*?[{]/.test(word)) flags.push(canonicalOption(name, word));
    else rest.push(word);
  }
  return { name: globToRegExp(name, false), flags, rest: globToRegExp(rest.join(" "), false) };
}

/** Whether command `words` has the shape: its program, every flag (anywhere before `--`), and the rest. */
function shapeMatches(shape: CommandShape, words: readonly string[]): boolean {
  const [program, ...args] = words;
  if (!shape.name.test(program)) return false;
  const required = new Set(shape.flags);
  const have = new Set<string>();
  const rest: string[] = [];
  let operands = false;
  for (const arg of args) {
    if (operands || !arg.startsWith("-") || arg === "-") {
      rest.push(arg);
    } else if (arg === "--") {
      operands = true;
      rest.push(arg);
    } else if (arg.startsWith("--")) {
      const full = canonicalOption(program, arg);
      const bare = canonicalOption(program, arg.split("=")[0]);
      have.add(full).add(bare);
      if (!required.has(full) && !required.has(bare)) rest.push(arg);
    } else {
      const left = [...arg.slice(1)].filter((letter) => {
        const option = canonicalOption(program, `-${letter}`);
        have.add(option);
        return !required.has(option);
      });
      if (left.length) rest.push(`-${left.join("")}`);
    }
  }
  return [...required].every((flag) => have.has(flag)) && shape.rest.test(rest.join(" "));
}

/** Parses `bash(git *)`, `read(src/**)`, `mcp__github__*` or `write`. */
export function parseRule(source: string): PermissionRule {
  const m = /^([A-Za-z0-9_*?-]+)(?:\((.*)\))?$/s.exec(source.trim());
  if (!m) throw new Error(`bad permission rule '${source}': expected tool or tool(pattern)`);
  const [, tool, pattern] = m;
  const any = pattern === undefined || pattern === "*";
  const command = !any && SHELL_SUBJECTS.has(tool) ? commandShape(pattern) : undefined;
  return {
    source,
    tool: globToRegExp(tool, false),
    subject: any ? undefined : globToRegExp(pattern, subjectIsPath(tool)),
    ...(command ? { command } : {}),
  };
}

function matches(rule: PermissionRule, tool: string, subject: string | undefined): boolean {
  if (!rule.tool.test(tool)) return false;
  if (!rule.subject) return true;
  return subject !== undefined && rule.subject.test(subject);
}

/**
 * Whether a rule on a command line covers `command`, one of the commands the line runs: its
 * text matches the pattern, or (for a command rule) the command has the rule's shape, by its
 * name as written or the program's own name (`/usr/bin/curl` is `curl`).
 */
function coversCommand(rule: PermissionRule, tool: string, command: BashCommand): boolean {
  if (!rule.tool.test(tool)) return false;
  if (!rule.subject) return true;
  return [command.words, command.named].some((words) =>
    words !== undefined &&
    (rule.subject!.test(words.join(" ")) ||
      (rule.command !== undefined && shapeMatches(rule.command, words)))
  );
}

const SEVERITY: Record<PermissionAction, number> = { allow: 0, ask: 1, deny: 2 };

/** The strictest of `decisions` (deny over ask over allow); the first of those when several are. */
export function strictest(decisions: readonly PermissionDecision[]): PermissionDecision {
  return decisions.reduce((worst, d) => SEVERITY[d.action] > SEVERITY[worst.action] ? d : worst);
}

/**
 * What a decision may read besides the call: `readScript` reads a script file a command runs
 * (`bash run.sh`, `./run.sh`), relative to the command's folder.
 */
type DecisionContext = { readScript?: (path: string) => string | undefined };

/** The rules a preset starts from; a config's own rules are added to them. */
export function presetRules(preset: PermissionsConfig["preset"]): {
  allow: string[];
  ask: string[];
  deny: string[];
  default: PermissionAction;
  askEffects: ToolEffect[];
} {
  switch (preset) {
    case "permissive":
      return { allow: [], ask: [], deny: [], default: "allow", askEffects: [] };
    case "strict":
      // Reading is free; anything that writes, runs, reaches the network or spawns agents asks.
      return {
        allow: [],
        ask: [],
        deny: ["bash(sudo *)", "bash(rm -rf /*)"],
        default: "ask",
        askEffects: ["write", "exec", "network", "agent"],
      };
    default:
      // Tools run confined and sandboxed, so the default lets them run; destructive shell asks.
      return {
        allow: [],
        ask: ["bash(rm -rf *)", "bash(git push*)"],
        deny: ["bash(sudo *)"],
        default: "allow",
        askEffects: [],
      };
  }
}

const ALL_EFFECTS: ToolEffect[] = ["read", "write", "exec", "network", "agent"];

/** One decision and the rule that made it. */
export interface PermissionDecision {
  /** What the call gets. */
  action: PermissionAction;
  /** The rule that decided (or `preset:<effect>`); unset when the default did. */
  rule?: string;
}

/**
 * Decides tool calls from a permissions config.
 *
 * @example
 * ```ts
 * import { PermissionPolicy } from "./permissions.ts";
 * const policy = PermissionPolicy.fromConfig({
 *   preset: "default", allow: ["bash(git *)"], ask: [], deny: ["read(.env)"],
 *   approval_timeout_ms: 1000, timeout_action: "deny",
 * });
 * console.log(policy.decide("read", ".env", "read").action); // "deny"
 * ```
 */
export class PermissionPolicy {
  /** A policy from parsed rules (checked deny, then allow, then ask), the action for calls no rule matches, and the tool effects that are still asked about when that action is `ask`. */
  constructor(
    readonly deny: PermissionRule[],
    readonly allow: PermissionRule[],
    readonly ask: PermissionRule[],
    readonly fallback: PermissionAction,
    readonly askEffects: ReadonlySet<ToolEffect>,
  ) {}

  /** Builds the policy of a config section: its preset's rules merged with the configured ones. */
  static fromConfig(config: PermissionsConfig): PermissionPolicy {
    const preset = presetRules(config.preset);
    const parse = (list: string[]) => list.map(parseRule);
    return new PermissionPolicy(
      parse([...preset.deny, ...config.deny]),
      parse([...config.allow, ...preset.allow]),
      parse([...config.ask, ...preset.ask]),
      config.default ?? preset.default,
      // A default of its own is what every call no rule matches gets: `ask` asks them all.
      new Set(config.default ? ALL_EFFECTS : preset.askEffects),
    );
  }

  /**
   * deny → allow → ask → default (where a preset may ask by effect). Several subjects (a patch
   * touching several files) are each decided, the strictest decision winning. A command line
   * (`bash`) is decided over every command it runs (see {@linkcode readBashCommands}): a deny or
   * ask rule on any of them applies wherever it stands in the line, with its options in any
   * order; an allow rule allows the line only when it allows each command; a command that
   * cannot be read (named by an expansion) is asked about while deny or ask rules on commands
   * exist, as they cannot be checked against it.
   */
  decide(
    tool: string,
    subject: string | readonly string[] | undefined,
    effect: ToolEffect | undefined,
    context: { readScript?: (path: string) => string | undefined } = {},
  ): PermissionDecision {
    if (typeof subject === "object") {
      if (!subject.length) return this.decide(tool, undefined, effect, context);
      return strictest(subject.map((one) => this.decide(tool, one, effect, context)));
    }
    if (subject !== undefined && SHELL_SUBJECTS.has(tool)) {
      return this.#decideCommandLine(tool, subject, effect, context.readScript);
    }
    for (
      const [list, action] of [[this.deny, "deny"], [this.allow, "allow"], [
        this.ask,
        "ask",
      ]] as const
    ) {
      const rule = list.find((r) => matches(r, tool, subject));
      if (rule) return { action, rule: rule.source };
    }
    return this.#fallbackFor(effect);
  }

  /**
   * Whether `read(path)` would run without asking: the answer for each file a search (`grep`,
   * `glob`) would show, where no one can be asked file by file. A path an ask rule names is
   * not; under a default of `ask` (the search itself was asked about) the rest are.
   */
  mayRead(path: string): boolean {
    const decision = this.decide("read", path, "read");
    return decision.action === "allow" || (decision.action === "ask" && !decision.rule);
  }

  /** A policy no more permissive than this one nor `outer`: each call gets the stricter decision. */
  within(outer: PermissionPolicy): PermissionPolicy {
    return new NarrowedPolicy(outer, this);
  }

  #fallbackFor(effect: ToolEffect | undefined): PermissionDecision {
    if (this.fallback === "ask" && effect && !this.askEffects.has(effect)) {
      return { action: "allow", rule: `preset:${effect}` };
    }
    return { action: this.fallback };
  }

  #decideCommandLine(
    tool: string,
    line: string,
    effect: ToolEffect | undefined,
    readScript: ScriptReader | undefined,
  ): PermissionDecision {
    const { commands, unreadable } = readBashCommands(line, readScript);
    // Rules written against the whole line (`bash(*| sh)`) still match it.
    const deny = this.deny.find((r) =>
      matches(r, tool, line) || commands.some((c) => coversCommand(r, tool, c))
    );
    if (deny) return { action: "deny", rule: deny.source };
    if (!commands.length && !unreadable.length) {
      return this.decide(tool, undefined, effect);
    }
    // Allowed as written: `bash(git *)` allows `git status`, not `env X=1 git status`'s `env`.
    const unconditional = this.allow.find((r) => r.tool.test(tool) && !r.subject);
    const allowedBy = commands.map((c) =>
      this.allow.find((r) => r.tool.test(tool) && (!r.subject || r.subject.test(c.words.join(" "))))
    );
    const allAllowed = allowedBy.every(Boolean) && (!unreadable.length || unconditional);
    const ask = this.ask.find((r) =>
      commands.some((c, i) => !allowedBy[i] && coversCommand(r, tool, c)) ||
      (!allAllowed && matches(r, tool, line))
    );
    if (ask) return { action: "ask", rule: ask.source };
    if (unreadable.length && !allAllowed && this.#rulesOnCommands(tool)) {
      return { action: "ask", rule: `unreadable command (${unreadable[0]})` };
    }
    if (allAllowed) {
      const rule = allowedBy[0] ?? unconditional;
      return { action: "allow", rule: rule?.source };
    }
    return this.#fallbackFor(effect);
  }

  /** Whether deny or ask rules name commands of `tool`: a command that cannot be read might be one. */
  #rulesOnCommands(tool: string): boolean {
    return [...this.deny, ...this.ask].some((r) => r.subject && r.tool.test(tool));
  }
}

/** {@linkcode PermissionPolicy.within}: the stricter of an outer policy's decision and its own. */
class NarrowedPolicy extends PermissionPolicy {
  constructor(private readonly outer: PermissionPolicy, inner: PermissionPolicy) {
    super(inner.deny, inner.allow, inner.ask, inner.fallback, inner.askEffects);
  }

  override decide(
    tool: string,
    subject: string | readonly string[] | undefined,
    effect: ToolEffect | undefined,
    context: DecisionContext = {},
  ): PermissionDecision {
    return strictest([
      this.outer.decide(tool, subject, effect, context),
      super.decide(tool, subject, effect, context),
    ]);
  }
}

/** What an `ask` shows the person deciding. */
export interface ApprovalRequest {
  /** The tool call's id. */
  callId: string;
  /** The tool's name. */
  tool: string;
  /** The arguments the model passed. */
  input: Record<string, unknown>;
  /** What the call touches (a path, a command, a URL), when the tool has one. */
  subject?: string;
  /** The rule that asked (`safeclaw(...)` when safeclaw's tool-call check holds the call). */
  rule?: string;
  /** Why safeclaw holds the call for approval (a host off the allow list, tainted data), when it does. */
  reasons?: string[];
}

/** Answers an approval: true allows. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<boolean>;

/**
 * Asks `approver`, falling back to `timeoutAction` when it does not answer in time (or when
 * there is no approver at all).
 */
export async function requestApproval(
  approver: Approver | undefined,
  request: ApprovalRequest,
  timeoutMs: number,
  timeoutAction: "allow" | "deny",
  signal?: AbortSignal,
): Promise<{ allowed: boolean; timedOut: boolean }> {
  if (!approver) return { allowed: timeoutAction === "allow", timedOut: true };
  const timer = AbortSignal.timeout(timeoutMs);
  const both = signal ? AbortSignal.any([timer, signal]) : timer;
  return await new Promise((resolve) => {
    const onAbort = () =>
      resolve({ allowed: !signal?.aborted && timeoutAction === "allow", timedOut: true });
    both.addEventListener("abort", onAbort, { once: true });
    approver(request, both).then(
      (allowed) => resolve({ allowed, timedOut: false }),
      () => resolve({ allowed: false, timedOut: false }),
    ).finally(() => both.removeEventListener("abort", onAbort));
  });
}
