/** Parsers for the box CLI's Docker-style values: `-v`, `-e`, `--memory`, `--cpus`. */
import { UsageError } from "@a3s/common";
import type { VolumeMount } from "./types.ts";

/** `host:guest[:ro|rw]`; both paths absolute (a relative host path is resolved). */
export function parseVolume(spec: string): VolumeMount {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new UsageError(`invalid volume '${spec}': use host-path:guest-path[:ro]`);
  }
  const [host, guest, mode = "rw"] = parts;
  if (mode !== "ro" && mode !== "rw") {
    throw new UsageError(`invalid volume mode '${mode}' in '${spec}': use ro or rw`);
  }
  if (!guest.startsWith("/")) {
    throw new UsageError(`invalid volume '${spec}': the guest path must be absolute`);
  }
  return { host, guest, readOnly: mode === "ro" };
}

/** `KEY=VALUE`, or `KEY` to pass the host's value through, as Docker does. */
export function parseEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const key = eq === -1 ? entry : entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`invalid environment variable '${entry}'`);
    }
    const value = eq === -1 ? Deno.env.get(key) : entry.slice(eq + 1);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512m`, `1g`, `65536`: Docker's memory units (binary). */
export function parseMemory(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(value.trim());
  const bytes = match ? Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()]) : NaN;
  if (!match || bytes < 6 * 1024 * 1024) {
    throw new UsageError(
      `invalid --memory '${value}': use a size of at least 6m, such as 512m or 1g`,
    );
  }
  return bytes;
}

/** `--cpus 1.5`. */
export function parseCpus(value: string): number {
  const cpus = Number(value);
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) {
    throw new UsageError(`invalid --cpus '${value}': use a positive number such as 0.5 or 2`);
  }
  return cpus;
}

/** A positive integer flag. */
export function parsePositive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  }
  return n;
}

/**
 * Splits `[flags] IMAGE [COMMAND...]`: flags end at the first positional, so the command's own
 * flags (`sh -c ...`) are left alone. `valueFlags` names the flags that take a value.
 */
export function splitAtPositional(
  args: readonly string[],
  valueFlags: ReadonlySet<string>,
): { flags: string[]; positional?: string; rest: string[] } {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      return { flags: args.slice(0, i), positional: args[i + 1], rest: args.slice(i + 2) };
    }
    if (!arg.startsWith("-") || arg === "-") {
      return { flags: args.slice(0, i), positional: arg, rest: args.slice(i + 1) };
    }
    if (!arg.includes("=") && valueFlags.has(arg)) i++;
  }
  return { flags: [...args], rest: [] };
}
