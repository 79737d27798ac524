/**
 * Errors carry a stable code, an HTTP status and, when input was wrong, the field path.
 * The HTTP and CLI layers only map them to a wire shape; they never invent messages.
 */

/** Wire shapes an error can take, chosen by the route family that produced it. */
export type ErrorStyle = "problem" | "openai" | "ollama";

/** Options that locate and classify an {@linkcode A3sError}. */
export interface A3sErrorOptions {
  /** HTTP status, 500 when unset. */
  status?: number;
  /** Dotted path of the input field that is wrong, such as `messages.0.role`. */
  field?: string;
  /** The underlying error, kept for logs. */
  cause?: unknown;
}

/**
 * The one error type modules throw for anything a caller should see.
 *
 * @example
 * ```ts
 * import { A3sError } from "@a3s/common";
 * throw new A3sError("model_not_found", "model 'x' not found", { status: 404, field: "model" });
 * ```
 */
export class A3sError extends Error {
  /** A stable, machine-readable code, such as `model_not_found`. */
  readonly code: string;
  /** The HTTP status it maps to. */
  readonly status: number;
  /** The dotted path of the input field at fault, if any. */
  readonly field?: string;

  /** An error with a stable `code`, a message for people and its status and field. */
  constructor(code: string, message: string, options: A3sErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "A3sError";
    this.code = code;
    this.status = options.status ?? 500;
    this.field = options.field;
  }
}

/** Input that failed validation: always a 400 naming the field. */
export class ValidationError extends A3sError {
  /** A 400 naming the field at fault. */
  constructor(message: string, field?: string) {
    super("invalid_request", message, { status: 400, field });
    this.name = "ValidationError";
  }
}

/** A named thing that does not exist: a 404. */
export class NotFoundError extends A3sError {
  /** A 404 naming the field that names the missing thing. */
  constructor(message: string, field?: string) {
    super("not_found", message, { status: 404, field });
    this.name = "NotFoundError";
  }
}

/** Bad command-line usage: the CLI prints one line and exits with code 2. */
export class UsageError extends Error {
  /** A usage error, shown as one line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Coerces anything thrown into an {@linkcode A3sError}, so no handler sees a bare value. */
export function toA3sError(error: unknown): A3sError {
  if (error instanceof A3sError) return error;
  if (error instanceof UsageError) return new ValidationError(error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new A3sError("internal_error", message, { status: 500, cause: error });
}

/**
 * Whether `error` is a failure the code raised on purpose for something outside it (an
 * {@linkcode A3sError} answered with 502, 503 or 504: a registry offline, a broker down, an
 * upstream too slow). The server logs those as warnings with their message; a 500, or anything
 * that is not an `A3sError`, is a bug and is logged with its stack.
 *
 * @example
 * ```ts
 * import { A3sError, isNamedUpstreamFailure } from "@a3s/common";
 * const offline = new A3sError("registry_error", "cannot reach registry docker.io", { status: 502 });
 * console.log(isNamedUpstreamFailure(offline)); // true
 * console.log(isNamedUpstreamFailure(new Error("x"))); // false
 * ```
 */
export function isNamedUpstreamFailure(error: unknown): boolean {
  return error instanceof A3sError && error.status > 500 && error.status < 600 &&
    error.code !== "internal_error";
}

const OPENAI_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "invalid_request_error",
  409: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
};

/** A ready-to-send error body and its content type. */
export interface ErrorBody {
  /** The response's content type. */
  contentType: string;
  /** The response body. */
  body: Record<string, unknown>;
}

/**
 * Renders an error in the shape its route family expects: OpenAI's
 * `{"error":{message,type,param,code}}`, Ollama's `{"error":"..."}`, or RFC 9457 problem+json.
 */
export function renderError(style: ErrorStyle, error: A3sError, instance?: string): ErrorBody {
  const message = error.status >= 500 && error.code === "internal_error"
    ? "internal server error"
    : error.message;
  if (style === "openai") {
    return {
      contentType: "application/json",
      body: {
        error: {
          message,
          type: OPENAI_TYPES[error.status] ??
            (error.status >= 500 ? "server_error" : "invalid_request_error"),
          param: error.field ?? null,
          code: error.code,
        },
      },
    };
  }
  if (style === "ollama") {
    return { contentType: "application/json", body: { error: message } };
  }
  const body: Record<string, unknown> = {
    type: `urn:a3s:error:${error.code}`,
    title: error.code.replaceAll("_", " "),
    status: error.status,
    detail: message,
  };
  if (instance) body.instance = instance;
  if (error.field !== undefined) body.field = error.field;
  return { contentType: "application/problem+json", body };
}

/** Picks the error style from the request path: `/v1/*` is OpenAI, `/api/*` is Ollama. */
export function errorStyleForPath(path: string): ErrorStyle {
  if (path.startsWith("/v1/") || path === "/v1") return "openai";
  if (path.startsWith("/api/") || path === "/api") return "ollama";
  return "problem";
}
