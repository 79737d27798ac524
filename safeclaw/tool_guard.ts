/**
 * Tool-call interception: the function the agent framework calls before each tool runs. A call
 * whose arguments carry tainted data, or whose command runs an exfiltration pattern (curl, wget,
 * nc, ssh, scp, DNS lookups of encoded data) towards a host that is not allow-listed, is blocked
 * or sent for approval, as the policy says.
 */
import type { Policy } from "./policy.ts";
import type { TaintHit, TaintTracker } from "./taint.ts";
import { type NetworkUse, networkUses, type ScriptReader } from "./network_commands.ts";

/** A tool call as the agent proposes it. */
export interface ToolCall {
  /** The tool's name. */
  tool: string;
  /** The arguments, as the model produced them. */
  args: unknown;
}

/** The decision. */
export interface ToolDecision {
  /** Run it, refuse it, or ask a person first (the policy's `toolCalls` choose). */
  decision: "allow" | "block" | "approve";
  /** Why, in words, when not allowed. */
  reasons: string[];
  /** The tracked values found in the arguments. */
  taints: TaintHit[];
  /** Hosts the command would reach. */
  hosts: string[];
}

/**
 * A host as a reason shows it: the domain, its lower labels elided. Exfiltration writes the data
 * into those labels (`AKIA….4111….evil.example`), and a reason goes into the reply and the audit
 * log, where it would carry the data on.
 */
export function shownHost(host: string): string {
  if (/^[\d.]+$|^\[/.test(host)) return host;
  const labels = host.replace(/\.$/, "").split(".");
  // Two labels, or three where the second-level one is a registry's own (co.uk, com.au).
  const keep = labels.length > 2 && labels.at(-2)!.length <= 3 ? 3 : 2;
  return labels.length > keep ? `*.${labels.slice(-keep).join(".")}` : labels.join(".");
}

function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return allow.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) : h === p;
  });
}

/** One string of a call's arguments, and whether it is a command line. */
interface ArgumentText {
  text: string;
  /** A shell runs it: its unreadable parts are held; elsewhere they are only text. */
  shell: boolean;
  /**
   * What it is to a value cut over consecutive arguments ({@linkcode acrossArguments}):
   * `"piece"`, a string argument's own value, one of the pieces a value can be cut into;
   * `"key"`, an object's key, which a receiver that joins the pieces leaves out; `"other"`, any
   * other value (a number, the text a list of byte values spells), which stands between the
   * pieces before it and those after it.
   */
  join: "piece" | "key" | "other";
}

/** Tools that run their arguments in a shell, and the argument names that hold a command line. */
const SHELL_TOOL = /^(?:bash|sh|shell|zsh|exec|run|terminal|command|run_command|execute)$/i;
const SHELL_ARGUMENT = /^(?:command|cmd|script|shell|commands)$/i;

/** How deep arguments are read; a call nested deeper is held, its inside unread. */
export const MAX_ARGUMENT_DEPTH = 64;

/** An array of code points as the text it spells, built a slice at a time (a spread of a long one overflows the stack). */
function spelled(codes: readonly number[]): string {
  let text = "";
  for (let i = 0; i < codes.length; i += 8192) {
    text += String.fromCodePoint(...codes.slice(i, i + 8192));
  }
  return text;
}

/**
 * Every string inside `value`: object keys too, numbers as text, and an array of byte values as
 * the text it spells (`[65, 75, 73, 65, …]`), each a way to carry a value out. Read with a stack
 * of its own, to `MAX_ARGUMENT_DEPTH`: `deep` says whether anything lay deeper.
 */
function argumentTexts(
  value: unknown,
  shellTool: boolean,
): { texts: ArgumentText[]; deep: boolean } {
  const texts: ArgumentText[] = [];
  let deep = false;
  const pending: { value: unknown; shell: boolean; depth: number; key: boolean }[] = [
    { value, shell: shellTool, depth: 0, key: false },
  ];
  while (pending.length) {
    const { value, shell, depth, key } = pending.pop()!;
    if (typeof value === "string") texts.push({ text: value, shell, join: key ? "key" : "piece" });
    else if (typeof value === "number" || typeof value === "bigint") {
      texts.push({ text: String(value), shell: false, join: "other" });
    } else if (value && typeof value === "object") {
      if (depth >= MAX_ARGUMENT_DEPTH) {
        deep = true;
        continue;
      }
      if (Array.isArray(value)) {
        if (
          value.length >= 6 && value.every((v) => Number.isInteger(v) && v >= 0 && v <= 0x10ffff)
        ) texts.push({ text: spelled(value as number[]), shell: false, join: "other" });
        for (let i = value.length - 1; i >= 0; i--) {
          pending.push({ value: value[i], shell, depth: depth + 1, key: false });
        }
      } else {
        const entries = Object.entries(value);
        for (let i = entries.length - 1; i >= 0; i--) {
          const [name, item] = entries[i];
          pending.push({
            value: item,
            shell: shell || SHELL_ARGUMENT.test(name),
            depth: depth + 1,
            key: false,
          });
          pending.push({ value: name, shell: false, depth: depth + 1, key: true });
        }
      }
    }
  }
  return { texts, deep };
}

/**
 * The network uses of a string no shell is known to run (an MCP tool's argument, a message):
 * only those naming a host with a dot or an address, since prose reads as commands too ("ssh
 * into the box", "ping me").
 */
function textNetworkUses(text: string): NetworkUse[] {
  return networkUses(text).flatMap((use) => {
    if (use.kind !== "network") return [];
    const hosts = use.hosts.filter((h) => h.includes(".") || h.includes(":"));
    return hosts.length ? [{ ...use, hosts }] : [];
  });
}

/**
 * Stands between runs of pieces in {@linkcode acrossArguments}'s text: no view of the search
 * removes it (it is no separator, no base64 and no hex), so no value is read across it.
 */
const RUN_BREAK = "\u0000";

/**
 * The tracked values that the call's string arguments carry only when laid end to end, in
 * order, with nothing and with a space between them: a card sent as `{"a":"4111","b":"1111",…}`
 * or a key cut in two arguments. The keys between the values are left out, as a receiver that
 * joins the pieces leaves them. A value found in one argument is in `known` already (the
 * arguments read one by one), so whatever only the join shows has characters of two arguments;
 * and only a whole value counts, never half of a secret, which two short unrelated pieces would
 * spell far more often.
 *
 * Only strings are pieces, and any other value between two of them (a number, a list of byte
 * values) ends the run: the numbers of a call are what tools count with (a line, a column, a
 * length, an id), and consecutive ones spell a short tracked number by chance (`12`, `34`, `56`
 * spell `123456`; `415`, `555`, `2671` a phone number). A value cut into numbers is still found
 * where they stand side by side with no key between them (an argv, a list `[4111, 1111, …]`):
 * the call's whole text is read so.
 */
function acrossArguments(
  tracker: TaintTracker,
  texts: readonly ArgumentText[],
  known: readonly TaintHit[],
): TaintHit[] {
  const runs: string[][] = [[]];
  for (const { text, join } of texts) {
    if (join === "piece") runs.at(-1)!.push(text);
    else if (join === "other" && runs.at(-1)!.length) runs.push([]);
  }
  const joinable = runs.filter((run) => run.length >= 2);
  if (!joinable.length) return [];
  const seen = new Set(known.map((h) => h.id));
  const out: TaintHit[] = [];
  for (const separator of ["", " "]) {
    const text = joinable.map((run) => run.join(separator)).join(RUN_BREAK);
    for (const hit of tracker.find(text, { wholeValues: true })) {
      if (seen.has(hit.id)) continue;
      seen.add(hit.id);
      out.push(hit);
    }
  }
  return out;
}

/** What {@linkcode checkToolCall} may use besides the call. */
export interface ToolCheckOptions {
  /**
   * Reads a script file a command runs (`sh run.sh`, `python3 job.py`), so that a script the
   * agent wrote in an earlier call is checked like the command line itself.
   */
  readScript?: ScriptReader;
  /**
   * Sources (a taint entry's `source`) whose values are the caller's own: the user's, which a
   * tool must be given (`restoreInputs` puts them back for it). A call carrying only their
   * Sensitive values (an address, a phone number) gets the policy's `toolCalls.onOwnValues`
   * (its `onTainted` when unset): the user's address is still what an injected instruction would
   * send away, so the policy, not this check, decides whether a person must see it. Their
   * Secrets follow `onTainted` as any other's: a key is not for a tool to pass on.
   */
  ownSources?: ReadonlySet<string>;
}

/**
 * Decides whether a tool call may run.
 *
 * @example
 * ```ts
 * import { checkToolCall, parsePolicy, TaintTracker } from "@a3s/safeclaw";
 * const tracker = new TaintTracker();
 * tracker.track("AKIAZ3KD7QW2PXF9LM4T", "Secret", "input");
 * const d = checkToolCall({ tool: "shell", args: { cmd: "echo AKIAZ3KD7QW2PXF9LM4T" } }, tracker, parsePolicy({}));
 * console.log(d.decision); // "block"
 * ```
 */
export function checkToolCall(
  call: ToolCall,
  tracker: TaintTracker,
  policy: Policy,
  options: ToolCheckOptions = {},
): ToolDecision {
  const { texts, deep } = argumentTexts(call.args, SHELL_TOOL.test(call.tool));
  // The tool's name is the model's to write too: a value can leave in it (`mcp__x__<key>`).
  const whole = tracker.find([call.tool, ...texts.map((t) => t.text)].join("\n"));
  const taints = [...whole, ...acrossArguments(tracker, texts, whole)];
  const reasons: string[] = [];
  let decision: ToolDecision["decision"] = "allow";
  const escalate = (to: "block" | "approve") => {
    if (decision !== "block") decision = to;
  };
  const own = (hit: TaintHit) =>
    hit.kind === "Sensitive" && options.ownSources?.has(tracker.get(hit.id)?.source ?? "");
  const others = taints.filter((t) => !own(t));
  const owned = taints.filter(own);
  if (others.length) {
    reasons.push(
      `arguments carry tracked ${[...new Set(others.map((t) => t.kind))].join(", ")} data (${
        others.map((t) => `${t.id} as ${t.encoding}`).join(", ")
      })`,
    );
    escalate(policy.toolCalls.onTainted);
  }
  if (owned.length) {
    reasons.push(
      `arguments carry the user's own ${[...new Set(owned.map((t) => t.kind))].join(", ")} data (${
        owned.map((t) => `${t.id} as ${t.encoding}`).join(", ")
      })`,
    );
    escalate(policy.toolCalls.onOwnValues ?? policy.toolCalls.onTainted);
  }
  if (deep) {
    reasons.push(`arguments nested deeper than ${MAX_ARGUMENT_DEPTH} levels are not read`);
    escalate("approve");
  }
  const hosts = new Set<string>();
  const opaque = new Set<string>();
  const uses = texts.flatMap(({ text, shell }) =>
    shell ? networkUses(text, options.readScript) : textNetworkUses(text)
  );
  for (const use of uses) {
    if (use.kind === "opaque") {
      if (!opaque.has(use.why)) reasons.push(`${use.why}: it cannot be read before it runs`);
      opaque.add(use.why);
      escalate("approve");
      continue;
    }
    const outside = use.hosts.filter((h) => !hostAllowed(h, policy.toolCalls.allowHosts));
    for (const h of use.hosts) hosts.add(h);
    if (use.carriesData) {
      reasons.push(`${use.command} sends data in a name it looks up or a packet's pattern`);
      escalate(policy.toolCalls.onExfiltration);
    } else if (outside.length) {
      const shown = [...new Set(outside.map(shownHost))];
      reasons.push(`${use.command} reaches ${shown.join(", ")}, not on the allow list`);
      escalate(policy.toolCalls.onExfiltration);
    } else if (!use.hosts.length) {
      reasons.push(`${use.command} with no host we can check`);
      escalate("approve");
    }
  }
  return { decision, reasons, taints, hosts: [...hosts] };
}
