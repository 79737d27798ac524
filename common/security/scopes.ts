/**
 * Scopes: what a token may do. `admin` grants everything; `<module>:read`, `<module>:write`
 * and `<module>:exec` grant one kind of access to one module, and `<module>:*` all three.
 * Write and exec imply read, since a client that may change or run something may also see it.
 */
import { z } from "zod";

/** `admin`, `<module>:read|write|exec`, or `<module>:*`. */
export const scopeSchema: z.ZodString = z.string().regex(
  /^(admin|[a-z][a-z0-9_-]*:(read|write|exec|\*))$/,
  "must be admin or <module>:read|write|exec|*",
);

/** A scope such as `power:read`. */
export type Scope = string;

/**
 * True when the `granted` scopes cover the `required` one.
 *
 * @example
 * ```ts
 * import { scopeGrants } from "@a3s/common";
 * scopeGrants(["power:write"], "power:read"); // true
 * scopeGrants(["power:read"], "box:exec"); // false
 * ```
 */
export function scopeGrants(granted: readonly string[], required: string): boolean {
  if (granted.includes("admin") || granted.includes(required)) return true;
  if (required === "admin") return false;
  const [module, action] = required.split(":");
  if (granted.includes(`${module}:*`)) return true;
  return action === "read" &&
    (granted.includes(`${module}:write`) || granted.includes(`${module}:exec`));
}
