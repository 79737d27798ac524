/**
 * `HEALTHCHECK` as Docker records it in an image's config: `NONE` switches off a base image's
 * check; `CMD` takes an exec-form array (`["CMD", ...]`) or a shell command (`["CMD-SHELL",
 * cmd]`), with `--interval`, `--timeout`, `--start-period`, `--start-interval` (Go durations,
 * stored in nanoseconds) and `--retries`.
 */
import { dockerfileError, type Instruction } from "./dockerfile.ts";

/** The image config's `Healthcheck`. */
export interface Healthcheck {
  /** `["NONE"]`, `["CMD", arg...]` or `["CMD-SHELL", command]`. */
  Test: string[];
  /** Time between checks, in nanoseconds. */
  Interval?: number;
  /** How long one check may take, in nanoseconds. */
  Timeout?: number;
  /** Grace period after start during which failures do not count, in nanoseconds. */
  StartPeriod?: number;
  /** Time between checks during the start period, in nanoseconds. */
  StartInterval?: number;
  /** Consecutive failures before the box is unhealthy. */
  Retries?: number;
}

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Parses a Go duration (`30s`, `1m30s`, `500ms`) into nanoseconds; `undefined` if it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === "0") return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_NANOS[p[2]], 0));
}

const DURATION_FLAGS = {
  interval: "Interval",
  timeout: "Timeout",
  "start-period": "StartPeriod",
  "start-interval": "StartInterval",
} as const;

/** Reads a HEALTHCHECK instruction (the shell form is kept as text, run by the box's shell). */
export function parseHealthcheck(step: Instruction): Healthcheck {
  const words = /^(\S+)\s*([\s\S]*)$/.exec(step.raw);
  const kind = words?.[1].toUpperCase();
  if (kind === "NONE") {
    if (words![2].trim() !== "" || Object.keys(step.flags).length > 0) {
      throw dockerfileError(step.line, "HEALTHCHECK NONE takes no arguments or options");
    }
    return { Test: ["NONE"] };
  }
  if (kind !== "CMD") {
    throw dockerfileError(step.line, "HEALTHCHECK takes NONE or [OPTIONS] CMD command");
  }
  const command = words![2].trim();
  if (command === "") throw dockerfileError(step.line, "HEALTHCHECK CMD needs a command");
  let exec: string[] | undefined;
  if (command.startsWith("[")) {
    try {
      const parsed = JSON.parse(command);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) exec = parsed;
    } catch {
      // Not JSON: a shell command, as Docker reads it.
    }
  }
  const check: Healthcheck = { Test: exec ? ["CMD", ...exec] : ["CMD-SHELL", command] };
  for (const [flag, value] of Object.entries(step.flags)) {
    if (flag === "retries") {
      if (!/^\d+$/.test(value)) {
        throw dockerfileError(step.line, `--retries needs a whole number, got '${value}'`);
      }
      check.Retries = Number(value);
      continue;
    }
    const key = DURATION_FLAGS[flag as keyof typeof DURATION_FLAGS];
    if (!key) throw dockerfileError(step.line, `HEALTHCHECK has no option --${flag}`);
    const nanos = parseDuration(value);
    if (nanos === undefined) {
      throw dockerfileError(step.line, `--${flag} needs a duration such as 30s, got '${value}'`);
    }
    check[key] = nanos;
  }
  return check;
}
