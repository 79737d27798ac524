/**
 * Secrets and personal values out of what box writes down about a command: the server log, the
 * audit trail (`box events`, `box audit`) and what the CLI prints (`box inspect`, `box ps`).
 * A command line such as `echo password=…` or `curl -H "Authorization: Bearer sk-…"` stays
 * readable with each finding of the WebAssembly PII scanner replaced by its type, as safeclaw
 * masks its own log lines (`[SECRET]`, `[EMAIL]`). The box itself still runs the command as
 * given, and the API still answers it as given to the token holder who sent it.
 */
import { scan } from "@a3s/wasm/pii";

/**
 * Types a command line names for what it does, not whom it is about: `-p 0.0.0.0:8080` or a
 * service's address masked made `box inspect` unreadable and hid nothing personal.
 */
const KEPT_TYPES = new Set(["ip_address"]);

/** `git@github.com:org/repo` is an SSH remote, not an e-mail address. */
function sshRemote(text: string, finding: { type: string; start: number; end: number }): boolean {
  return finding.type === "email" && /^git@/i.test(text.slice(finding.start, finding.end));
}

/**
 * `text` with every secret and personal value the scanner finds replaced by `[TYPE]` (but the
 * network addresses and SSH remotes a command is made of).
 */
export function redactText(text: string): string {
  const findings = scan(text).filter((f) => !KEPT_TYPES.has(f.type) && !sshRemote(text, f));
  if (findings.length === 0) return text;
  let out = "";
  let at = 0;
  for (const finding of findings) {
    // Findings can overlap (a secret that holds an email); the first one covers both.
    if (finding.start < at) continue;
    out += `${text.slice(at, finding.start)}[${finding.type.toUpperCase()}]`;
    at = finding.end;
  }
  return out + text.slice(at);
}

/**
 * A command line with its secrets and personal values replaced by their type. The words are
 * scanned as one line, so a credential split over words (`-H "Authorization: Bearer" "sk-…"`)
 * is still found.
 */
export function redactCommand(command: readonly string[]): string[] {
  const line = command.join("\n");
  const redacted = redactText(line);
  if (redacted === line) return [...command];
  const words = redacted.split("\n");
  // A finding that spanned words merged them: the line is still the readable record.
  return words.length === command.length ? words : [redacted.replaceAll("\n", " ")];
}

/** Environment names whose values are credentials, whatever they look like. */
const SECRET_NAME = /(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)$/i;

/**
 * An environment with each value's secrets and personal values replaced by their type; a name
 * such as `API_TOKEN` marks its value as a secret whatever the value looks like.
 */
export function redactEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (SECRET_NAME.test(name) && value !== "") {
      out[name] = "[SECRET]";
      continue;
    }
    // Scanned with its name, as a shell sees it: `PGPASSWORD=…` reads as a secret, `x` alone not.
    const found = redactText(`${name}=${value}`);
    out[name] = found.startsWith(`${name}=`) ? found.slice(name.length + 1) : "[SECRET]";
  }
  return out;
}

/**
 * An audit detail with its `command` (a list of words) and `env` (a map of values) redacted;
 * every other field is kept as it is, so names, images and exit codes stay exact.
 */
export function redactDetail(detail: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...detail };
  const { command, env } = detail;
  if (Array.isArray(command) && command.every((word) => typeof word === "string")) {
    out.command = redactCommand(command);
  }
  if (env && typeof env === "object" && !Array.isArray(env)) {
    const strings = Object.entries(env).filter((e): e is [string, string] =>
      typeof e[1] === "string"
    );
    out.env = redactEnv(Object.fromEntries(strings));
  }
  return out;
}

/**
 * A box as the CLI prints it (`inspect`, `ps`): its main command and environment redacted, the
 * rest exact.
 */
export function redactBox<T extends { command: readonly string[]; env?: Record<string, string> }>(
  box: T,
): T {
  const shown = { ...box, command: redactCommand(box.command) };
  if (box.env) shown.env = redactEnv(box.env);
  return shown;
}
