/**
 * Parsers for the box CLI's Docker-style values: `-v`, `-e`, `--memory`, `--cpus`, and the
 * security flags of `run` and `create`.
 */
import { UsageError, ValidationError } from "@a3s/common";
import type { BoxSecurity, SeccompProfile, VolumeMount } from "./types.ts";
import { compileSeccompProfile } from "./drivers/seccomp_profile.ts";
import { CAPABILITIES } from "./drivers/namespace_security.ts";

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

/** The security flags of `run` and `create`, as parseArgs gives them. */
export interface SecurityFlags {
  /** `--cap-add`, repeated. */
  capAdd?: string[];
  /** `--cap-drop`, repeated. */
  capDrop?: string[];
  /** `--read-only`. */
  readOnly?: boolean;
  /** `--sysctl KEY=VALUE`, repeated. */
  sysctl?: string[];
  /** `--security-opt`, repeated. */
  securityOpt?: string[];
  /** `--privileged`. */
  privileged?: boolean;
  /** `--pid host`. */
  pid?: string;
  /** `--ipc host|private`. */
  ipc?: string;
}

function capabilities(flag: string, names: readonly string[]): string[] | undefined {
  for (const raw of names) {
    const name = raw.toUpperCase().replace(/^CAP_/, "");
    if (name !== "ALL" && !CAPABILITIES.includes(name)) {
      throw new UsageError(`unknown capability '${raw}' in ${flag}`);
    }
  }
  return names.length ? [...names] : undefined;
}

/** `seccomp=FILE|unconfined|builtin` (Docker also takes `seccomp:`); the file is checked now. */
function seccompOption(value: string): NonNullable<BoxSecurity["seccomp"]> {
  if (value === "unconfined") return { kind: "unconfined" };
  if (value === "builtin" || value === "default") return { kind: "default" };
  let text: string;
  try {
    text = Deno.readTextFileSync(value);
  } catch (error) {
    throw new UsageError(`cannot read seccomp profile ${value}: ${(error as Error).message}`);
  }
  let profile: SeccompProfile;
  try {
    profile = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid seccomp profile ${value}: not JSON`);
  }
  try {
    compileSeccompProfile(profile, "profile");
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new UsageError(`invalid seccomp profile ${value}: ${error.message} (${error.field})`);
  }
  return { kind: "profile", profile };
}

/**
 * Docker's security flags (`--cap-add`, `--cap-drop`, `--read-only`, `--sysctl`, `--security-opt
 * seccomp=…|no-new-privileges`, `--privileged`, `--pid host`, `--ipc host`) as a box's security
 * settings; undefined when none is given. Malformed values are usage errors; whether a driver can
 * honour a well-formed one is the driver's to say when the box is created.
 */
export function parseSecurityFlags(flags: SecurityFlags): BoxSecurity | undefined {
  const security: BoxSecurity = {};
  security.capAdd = capabilities("--cap-add", flags.capAdd ?? []);
  security.capDrop = capabilities("--cap-drop", flags.capDrop ?? []);
  if (flags.readOnly) security.readOnlyRootfs = true;
  if (flags.privileged) security.privileged = true;
  for (const entry of flags.sysctl ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`invalid --sysctl '${entry}': use KEY=VALUE`);
    security.sysctls = { ...security.sysctls, [entry.slice(0, eq)]: entry.slice(eq + 1) };
  }
  for (const option of flags.securityOpt ?? []) {
    const match = /^([a-z-]+)(?:[=:](.*))?$/.exec(option);
    if (match?.[1] === "seccomp" && match[2]) {
      security.seccomp = seccompOption(match[2]);
    } else if (match?.[1] === "no-new-privileges") {
      // Every box runs with no_new_privs; only turning it off cannot be honoured.
      if (match[2] !== undefined && match[2] !== "true") {
        throw new UsageError("boxes always run with no-new-privileges; it cannot be turned off");
      }
    } else {
      throw new UsageError(
        `unsupported --security-opt '${option}': use seccomp=FILE|unconfined or no-new-privileges`,
      );
    }
  }
  if (flags.pid !== undefined) {
    if (flags.pid !== "host") throw new UsageError(`invalid --pid '${flags.pid}': use host`);
    security.hostPid = true;
  }
  if (flags.ipc !== undefined) {
    if (flags.ipc !== "host" && flags.ipc !== "private") {
      throw new UsageError(`invalid --ipc '${flags.ipc}': use host or private`);
    }
    if (flags.ipc === "host") security.hostIpc = true;
  }
  const set = Object.entries(security).filter(([, value]) => value !== undefined);
  return set.length ? Object.fromEntries(set) as BoxSecurity : undefined;
}
