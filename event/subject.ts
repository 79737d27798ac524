/**
 * Subjects and patterns, NATS-style: dot-separated tokens; in a pattern `*` matches exactly one
 * token and a final `>` matches one or more.
 */
import { ValidationError } from "@a3s/common";

const TOKEN = /^[A-Za-z0-9_\-:@$]+$/;

/** The longest subject or pattern accepted, so keys and index entries stay bounded. */
export const MAX_SUBJECT_LENGTH = 256;

function tokensOf(text: string, field: string, what: string): string[] {
  if (typeof text !== "string" || text.length === 0) {
    throw new ValidationError(`${field}: ${what} must not be empty`, field);
  }
  if (text.length > MAX_SUBJECT_LENGTH) {
    throw new ValidationError(
      `${field}: ${what} is longer than ${MAX_SUBJECT_LENGTH} characters`,
      field,
    );
  }
  return text.split(".");
}

/**
 * Throws a {@linkcode ValidationError} naming `field` unless `subject` is a concrete subject
 * (no wildcards, no empty tokens).
 */
export function assertSubject(subject: string, field = "subject"): void {
  for (const token of tokensOf(subject, field, "subject")) {
    if (!TOKEN.test(token)) {
      throw new ValidationError(
        `${field}: '${subject}' has an empty or invalid token '${token}' (letters, digits, _ - : @ $)`,
        field,
      );
    }
  }
}

/** Throws a {@linkcode ValidationError} naming `field` unless `pattern` is a valid pattern. */
export function assertPattern(pattern: string, field = "pattern"): void {
  const tokens = tokensOf(pattern, field, "pattern");
  tokens.forEach((token, index) => {
    if (token === "*") return;
    if (token === ">") {
      if (index === tokens.length - 1) return;
      throw new ValidationError(`${field}: '>' may only be the last token of '${pattern}'`, field);
    }
    if (!TOKEN.test(token)) {
      throw new ValidationError(
        `${field}: '${pattern}' has an empty or invalid token '${token}'`,
        field,
      );
    }
  });
}

/** True when `pattern` contains no wildcard, so it names one subject. */
export function isLiteral(pattern: string): boolean {
  return !pattern.split(".").some((t) => t === "*" || t === ">");
}

/**
 * True when `subject` matches `pattern`.
 *
 * @example
 * ```ts
 * import { matchSubject } from "@a3s/event";
 * matchSubject("box.*.started", "box.b1.started"); // true
 * matchSubject("lane.>", "lane"); // false: '>' needs at least one token
 * ```
 */
export function matchSubject(pattern: string, subject: string): boolean {
  return compilePattern(pattern)(subject);
}

const compiled = new Map<string, (subject: string) => boolean>();

/** A reusable matcher for `pattern`; matchers are cached, patterns are few. */
export function compilePattern(pattern: string): (subject: string) => boolean {
  let matcher = compiled.get(pattern);
  if (matcher) return matcher;
  const want = pattern.split(".");
  const tail = want[want.length - 1] === ">";
  const fixed = tail ? want.length - 1 : want.length;
  matcher = (subject: string) => {
    const have = subject.split(".");
    if (tail ? have.length <= fixed : have.length !== fixed) return false;
    for (let i = 0; i < fixed; i++) {
      if (want[i] !== "*" && want[i] !== have[i]) return false;
    }
    return true;
  };
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(pattern, matcher);
  return matcher;
}
