/**
 * What the CRI's handlers share: messages as plain objects (the protobuf's field names, int64
 * values as strings), nanosecond timestamps, required fields, and the kubelet's tolerance of
 * things already gone.
 */
import { NotFoundError, ValidationError } from "@a3s/common";

/** A CRI message as a plain object (protobuf field names; int64 values as strings). */
export type CriMessage = Record<string, unknown>;

/** Milliseconds as protobuf int64 nanoseconds (a string keeps every digit). */
export function nanos(ms: number | null | undefined): string {
  return ms ? `${Math.round(ms)}000000` : "0";
}

/** A required request field, or INVALID_ARGUMENT naming it. */
export function need<T>(value: T | undefined | null | "", field: string): T {
  if (value === undefined || value === null || value === "") {
    throw new ValidationError(`${field} is required`, field);
  }
  return value;
}

/** `undefined` for a thing that is gone: the kubelet retries stops and removals freely. */
export async function unlessNotFound<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
