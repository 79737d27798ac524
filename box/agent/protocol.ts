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

/** Encodes an exec request: `X` then `a<arg>`, `e<K=V>`, `w<dir>`, `u<uid:gid>`, `t` records. */
export function encodeExecRequest(request: ExecRequest): Uint8Array {
  const records: string[] = [];
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
