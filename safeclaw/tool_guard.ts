/**
 * Tool-call interception: the function the agent framework calls before each tool runs. A call
 * whose arguments carry tainted data, or whose command runs an exfiltration pattern (curl, wget,
 * nc, ssh, scp, DNS lookups of encoded data) towards a host that is not allow-listed, is blocked
 * or sent for approval, as the policy says.
 */
import type { Policy } from "./policy.ts";
import type { TaintHit, TaintTracker } from "./taint.ts";

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

// Where a command name stands: at the start of a line or after a separator, inside an opening
// quote (`bash -c "curl …"`), after wrappers (`sudo`, `env A=1`, `xargs`, `timeout 5`) and a
// directory (`/usr/bin/curl`). A name elsewhere is an argument (`grep host`, `cat host.txt`).
const COMMAND_AT = String
  .raw`(?:^|[;|&\x60(\n]|["'])\s*(?:(?:sudo|env|exec|nohup|time|command|xargs|nice|busybox|toybox|timeout\s+\S+|\w+=\S*)\s+)*(?:[\w.~-]*/)*`;
const NETWORK_TOOLS = new RegExp(
  COMMAND_AT +
    String
      .raw`(curl|wget|nc|ncat|netcat|socat|ssh|scp|sftp|rsync|ftp|tftp|telnet|dig|nslookup|host|ping|openssl\s+s_client)(?=[\s"']|$)([^;|&\n]*)`,
  "gm",
);
// An interpreter given its program inline (`python3 -c`, `node -e`, `perl -e`): its network
// calls do not start with a command name.
const INLINE_PROGRAM = new RegExp(
  COMMAND_AT +
    String.raw`(python[\d.]*|node|deno|bun|perl|ruby|php)\s+(?:-\w*[ceEr]\b|eval\b)([^\n]*)`,
  "gm",
);
/**
 * The commands as the shell reads them, as far as that is plain: quotes that join nothing
 * (`n""c`) and escapes of ordinary letters (`n\c`) removed, since the shell drops both.
 */
function readableCommands(text: string): string {
  return text.replace(/\\(?=[a-z0-9])/gi, "").replace(/(?<=\w)(?:""|'')(?=\w)/g, "");
}

/**
 * A command the guard cannot read: `eval`, a command named by a variable (`$N host 80`), or text
 * piped into a shell (`echo … | base64 -d | sh`). Such a call is held for approval.
 */
const OPAQUE_COMMAND = new RegExp(
  COMMAND_AT +
    String.raw`(?:eval|\$\{?\w+\}?)(?=\s)|\|\s*(?:busybox\s+)?(?:ba|z|da|a)?sh\b(?!\s+-c)`,
  "m",
);

/** The commands whose first bare word is the host they reach. */
const HOST_FIRST = new Set(["nc", "ncat", "netcat", "telnet", "ssh", "sftp", "ftp", "tftp"]);
const NETWORK_CALL =
  /\b(?:socket|urlopen|urllib|requests\.|http\.client|httpx|fetch\s*\(|net\.connect|XMLHttpRequest|LWP|IO::Socket|Net::HTTP|open-uri|curl_exec|fsockopen)\b/;
const URL_HOST = /\b(?:https?|ftp|wss?):\/\/(?:[^@\s/]+@)?([a-z0-9.-]+|\[[0-9a-f:]+\])/gi;
const USER_AT_HOST = /\b[\w.-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::|\s|$)/gi;
const BARE_HOST = /(?:^|\s)((?:[a-z0-9-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})(?=[\s:/]|$)/gi;
// A DNS label that looks like encoded data: long, and base32/base64/hex-like.
const ENCODED_LABEL = /(?:^|[\s.])([a-z0-9+/=_-]{24,})\./i;

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

/** Every string inside `value`, depth first. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) { for (const v of value) strings(v, out); }
  else if (value && typeof value === "object") {
    for (const v of Object.values(value)) strings(v, out);
  }
  return out;
}

/** Network commands in `text`, with the hosts they name. */
export function networkCommands(
  text: string,
): { command: string; hosts: string[]; encodedDns: boolean }[] {
  const found: { command: string; hosts: string[]; encodedDns: boolean }[] = [];
  for (const m of text.matchAll(NETWORK_TOOLS)) {
    const command = m[1].split(/\s+/)[0];
    const rest = m[2];
    const hosts = hostsIn(rest, true);
    // `nc localhost 18777`, `ssh build`: a name without a dot is a host too (loopback reaches
    // the host's own services where a sandbox shares its network).
    if (!hosts.length && HOST_FIRST.has(command)) {
      const name = rest.match(/(?:^|\s)([a-z][a-z0-9-]*)(?=\s|$)/i)?.[1];
      if (name) hosts.push(name);
    }
    const encodedDns = ["dig", "nslookup", "host", "ping"].includes(command) &&
      ENCODED_LABEL.test(rest);
    found.push({ command, hosts, encodedDns });
  }
  for (const m of text.matchAll(INLINE_PROGRAM)) {
    // A program that names a URL, or calls the network where we cannot see where to.
    const hosts = hostsIn(m[2], false);
    if (hosts.length || NETWORK_CALL.test(m[2])) {
      found.push({ command: m[1], hosts, encodedDns: false });
    }
  }
  return found;
}

/** The hosts `args` names: in URLs and `user@host`, else (for a command) bare names. */
function hostsIn(args: string, bare: boolean): string[] {
  const hosts = new Set<string>();
  for (const u of args.matchAll(URL_HOST)) hosts.add(u[1]);
  for (const u of args.matchAll(USER_AT_HOST)) hosts.add(u[1]);
  if (bare && !hosts.size) { for (const u of args.matchAll(BARE_HOST)) hosts.add(u[1]); }
  return [...hosts];
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
): ToolDecision {
  const texts = strings(call.args);
  const joined = texts.join("\n");
  const taints = tracker.find(joined);
  const reasons: string[] = [];
  let decision: ToolDecision["decision"] = "allow";
  const escalate = (to: "block" | "approve") => {
    if (decision !== "block") decision = to;
  };
  if (taints.length) {
    reasons.push(
      `arguments carry tracked ${[...new Set(taints.map((t) => t.kind))].join(", ")} data (${
        taints.map((t) => `${t.id} as ${t.encoding}`).join(", ")
      })`,
    );
    escalate(policy.toolCalls.onTainted);
  }
  const hosts = new Set<string>();
  const commands = readableCommands(joined);
  if (OPAQUE_COMMAND.test(commands)) {
    reasons.push(
      "runs a command that cannot be read before it runs (eval, a variable or a pipe into a shell)",
    );
    escalate("approve");
  }
  for (const cmd of networkCommands(commands)) {
    const outside = cmd.hosts.filter((h) => !hostAllowed(h, policy.toolCalls.allowHosts));
    for (const h of cmd.hosts) hosts.add(h);
    if (cmd.encodedDns) {
      reasons.push(`${cmd.command} looks up a name that carries encoded data`);
      escalate(policy.toolCalls.onExfiltration);
    } else if (outside.length) {
      const shown = [...new Set(outside.map(shownHost))];
      reasons.push(`${cmd.command} reaches ${shown.join(", ")}, not on the allow list`);
      escalate(policy.toolCalls.onExfiltration);
    } else if (!cmd.hosts.length && cmd.command !== "ping") {
      reasons.push(`${cmd.command} with no host we can check`);
      escalate("approve");
    }
  }
  return { decision, reasons, taints, hosts: [...hosts] };
}
