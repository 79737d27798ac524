/**
 * `@a3s/event`. Its public API lands with the module's issue; until then it exports only its
 * package name, so the workspace and publishing stay whole.
 *
 * @example
 * ```ts
 * import { MODULE_NAME } from "@a3s/event";
 * console.log(MODULE_NAME);
 * ```
 * @module
 */
/** The package name. */
export const MODULE_NAME = "@a3s/event";
