/** Model names as Ollama writes them: `name[:tag]`, with `latest` as the default tag. */
import { ValidationError } from "@a3s/common";

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._\-/]{0,127}(:[a-zA-Z0-9][a-zA-Z0-9._-]{0,127})?$/;

/**
 * Adds the default `:latest` tag and checks the name is safe to use as a path.
 *
 * @example
 * ```ts
 * console.log(normalizeName("tiny")); // "tiny:latest"
 * ```
 */
export function normalizeName(name: string, field = "model"): string {
  const trimmed = name.trim();
  if (!NAME.test(trimmed) || trimmed.includes("..")) {
    throw new ValidationError(
      `${field}: '${name}' is not a valid model name (use letters, digits, '.', '_', '-', '/' and an optional ':tag')`,
      field,
    );
  }
  return trimmed.includes(":") ? trimmed : `${trimmed}:latest`;
}

/** Splits a normalized name into its path parts. */
export function nameParts(name: string): { repo: string; tag: string } {
  const at = name.lastIndexOf(":");
  return { repo: name.slice(0, at), tag: name.slice(at + 1) };
}

/**
 * The model name a pull source suggests: the last segment of its path or URL, without an
 * archive extension, with anything but letters, digits, `.`, `_` and `-` turned into `-`.
 * It is only a name; it never becomes a file path by itself.
 *
 * @example
 * ```ts
 * import { modelNameFromSource } from "@a3s/power";
 * console.log(modelNameFromSource("https://example.org/m/tiny.tar.gz")); // "tiny:latest"
 * ```
 */
export function modelNameFromSource(source: string): string {
  const last = source.replace(/[?#].*$/, "").replace(/\/+$/, "").split("/").pop() ?? "";
  let decoded = last;
  try {
    decoded = decodeURIComponent(last);
  } catch {
    // A malformed escape: use the raw segment.
  }
  const base = decoded.replace(/\.(tar\.gz|tgz|tar|zip)$/i, "").replace(/[^a-zA-Z0-9._-]/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "").replace(/\.\.+/g, ".");
  return normalizeName(base || "model");
}
