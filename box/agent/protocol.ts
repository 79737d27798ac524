/**
 * The agent's request encoding, shared by the host client and documented in README.md: an exec
 * request is NUL-separated records, each tagged by its first byte, which the C agent parses
 * without a JSON library.
 */
import { A3sError } from "@a3s/common";
import type { ExecRequest, ExitStatus } from "../types.ts";

const encoder = new TextEncoder();

function checkField(value: string, field: string): string {
  if (value.includes("\0")) {
    throw new A3sError("invalid_request", `${field} must not contain NUL bytes`, {
      status: 400,
      field,
    });
  }
  return value;
}

/**
 * Encodes an exec request: `X` then `a<arg>`, `e<K=V>`, `w<dir>`, `u<uid:gid>`, `t` records, and
 * `c<id>` to run it inside one of a pod VM's guest containers.
 */
export function encodeExecRequest(request: ExecRequest, container?: string): Uint8Array {
  const records: string[] = [];
  if (container) records.push(`c${checkField(container, "container")}`);
  request.command.forEach((arg, i) => records.push(`a${checkField(arg, `command.${i}`)}`));
  for (const [key, value] of Object.entries(request.env ?? {})) {
    records.push(`e${checkField(key, "env")}=${checkField(value, `env.${key}`)}`);
  }
  if (request.workdir) records.push(`w${checkField(request.workdir, "workdir")}`);
  if (request.user) records.push(`u${checkField(request.user, "user")}`);
  if (request.tty) records.push("t");
  return encoder.encode(`X${records.join("\0")}`);
}

/** Parses the agent's `x<code> <signal>` exit message; undefined for anything else. */
export function parseExit(text: string): ExitStatus | undefined {
  const match = /^x(\d+) (\d+)$/.exec(text);
  if (!match) return undefined;
  return { exitCode: Number(match[1]), signal: Number(match[2]) };
}

/** What the agent needs to start a guest container in a pod VM (paths are the VM's). */
export interface GuestContainerRequest {
  /** The container's id; signals, resizes and execs name it. */
  id: string;
  /** The container's rootfs inside the VM (on the pod's shared directory). */
  rootfs: string;
  /** The main command and its arguments. */
  command: string[];
  /** The main command's environment. */
  env: Record<string, string>;
  /** The working directory inside the rootfs. */
  workdir?: string;
  /** The user, resolved in the container's own /etc/passwd and /etc/group. */
  user?: string;
  /** Runs the main command on a terminal; its output is one stream. */
  tty?: boolean;
  /** Keeps the main command's stdin open to the starting connection. */
  interactive?: boolean;
  /** Mounts the rootfs read-only (a writable /tmp stays). */
  readOnlyRootfs?: boolean;
  /** The cgroup's memory.max in bytes. */
  memoryBytes?: number;
  /** The cgroup's pids.max. */
  pids?: number;
  /** The cgroup's CPU quota in microseconds per 100 ms period. */
  cpuQuotaMicros?: number;
  /** The file the agent writes `<code> <signal> <reason>` to when the main command ends. */
  statusPath: string;
}

/** Encodes a guest container's start request (`C` and NUL-separated tagged records). */
export function encodeContainerStart(request: GuestContainerRequest): Uint8Array {
  const records = [
    `i${checkField(request.id, "id")}`,
    `r${checkField(request.rootfs, "rootfs")}`,
    `s${checkField(request.statusPath, "statusPath")}`,
  ];
  request.command.forEach((arg, i) => records.push(`a${checkField(arg, `command.${i}`)}`));
  for (const [key, value] of Object.entries(request.env)) {
    records.push(`e${checkField(key, "env")}=${checkField(value, `env.${key}`)}`);
  }
  if (request.workdir) records.push(`w${checkField(request.workdir, "workdir")}`);
  if (request.user) records.push(`u${checkField(request.user, "user")}`);
  if (request.tty) records.push("t");
  if (request.interactive) records.push("I");
  if (request.readOnlyRootfs) records.push("R");
  if (request.memoryBytes) records.push(`m${Math.floor(request.memoryBytes)}`);
  if (request.pids) records.push(`p${Math.floor(request.pids)}`);
  if (request.cpuQuotaMicros) {
    records.push(`c${Math.max(1000, Math.floor(request.cpuQuotaMicros))}`);
  }
  return encoder.encode(`C${records.join("\0")}`);
}
