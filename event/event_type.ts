/**
 * Typed events: a zod schema per subject pattern. Publishing validates the payload against the
 * first type whose pattern matches, so an invalid payload never reaches the broker.
 */
import type { z } from "zod";
import { EventPayloadError } from "./errors.ts";
import { assertPattern, compilePattern } from "./subject.ts";

/** One kind of event: the CloudEvents `type`, the subjects it travels on and its schema. */
export interface EventType<T = unknown> {
  /** CloudEvents `type`, such as `a3s.box.started`. */
  type: string;
  /** Subject pattern this type is published on, such as `box.*.started`. */
  subject: string;
  /** Schema version, carried as the `schemaversion` extension. */
  version: string;
  /** The payload schema. */
  schema: z.ZodType<T>;
  /** Validates and returns the payload; throws an {@linkcode EventPayloadError}. */
  parse(data: unknown): T;
}

/**
 * Declares an event type.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineEvent } from "@a3s/event";
 * const BoxStarted = defineEvent({
 *   type: "a3s.box.started",
 *   subject: "box.*.started",
 *   version: "1",
 *   schema: z.object({ box: z.string(), image: z.string() }),
 * });
 * BoxStarted.parse({ box: "b1", image: "alpine" });
 * ```
 */
export function defineEvent<T>(
  definition: { type: string; subject: string; version?: string; schema: z.ZodType<T> },
): EventType<T> {
  assertPattern(definition.subject, "subject");
  const { schema } = definition;
  return {
    type: definition.type,
    subject: definition.subject,
    version: definition.version ?? "1",
    schema,
    parse(data: unknown): T {
      const result = schema.safeParse(data);
      if (result.success) return result.data;
      const issue = result.error.issues[0];
      const path = issue.path.map(String);
      const field = ["data", ...path].join(".");
      throw new EventPayloadError(`${field}: ${issue.message} (${definition.type})`, field);
    },
  };
}

/** The event types a bus knows, looked up by subject. */
export class EventTypeRegistry {
  #types: { type: EventType; matches: (subject: string) => boolean }[] = [];

  /** Adds `type`, replacing one of the same CloudEvents type. */
  register(type: EventType): void {
    this.#types = this.#types.filter((t) => t.type.type !== type.type);
    this.#types.push({ type, matches: compilePattern(type.subject) });
  }

  /** The first registered type whose pattern matches `subject`. */
  find(subject: string): EventType | undefined {
    return this.#types.find((t) => t.matches(subject))?.type;
  }

  /** Every registered type, in registration order. */
  list(): EventType[] {
    return this.#types.map((t) => t.type);
  }
}
