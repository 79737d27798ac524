/** Sub-app construction: every module builds its routes on {@linkcode createRouter}. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import { ValidationError } from "./errors.ts";

/** The part of a zod issue a validation error is built from. */
export interface ZodIssueLike {
  /** Where in the input the issue is. */
  path: PropertyKey[];
  /** What is wrong. */
  message: string;
}

/** Turns the first zod issue into a {@linkcode ValidationError} naming the field path. */
export function validationErrorFrom(
  issues: readonly ZodIssueLike[],
  target?: string,
): ValidationError {
  const issue = issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  const field = path || target || "body";
  return new ValidationError(`${field}: ${issue?.message ?? "invalid"}`, field);
}

/**
 * An OpenAPIHono whose failed validations throw a {@linkcode ValidationError}, so the server's
 * error handler renders them in the route family's error shape.
 *
 * @example
 * ```ts
 * import { createRouter } from "@a3s/common";
 * const app = createRouter();
 * ```
 */
export function createRouter<E extends Env = Env>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (!result.success) {
        throw validationErrorFrom(result.error.issues, (result as { target?: string }).target);
      }
    },
  });
}
