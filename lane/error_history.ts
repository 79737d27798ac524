/** A job's error history: one entry per failed attempt, cancellation or lost lease. */
import { A3sError } from "@a3s/common";
import type { JobError } from "./types.ts";

/** The code and message kept in a job's error history. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof A3sError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name || "Error", message: error.message };
  return { code: "error", message: String(error) };
}

/** `history` with `error` of attempt `attempt` appended at `at`; the input is not changed. */
export function appendError(
  history: readonly JobError[] | undefined,
  attempt: number,
  error: unknown,
  at: number,
): JobError[] {
  const { code, message } = describeError(error);
  return [...(history ?? []), { attempt, code, message, at }];
}

/** The error a waiter of a failed job rejects with, rebuilt from its stored history. */
export function lastError(history: readonly JobError[]): A3sError {
  const last = history[history.length - 1];
  return new A3sError(last?.code ?? "failed", last?.message ?? "job failed", { status: 500 });
}
