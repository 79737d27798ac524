/**
 * `@a3s/gateway`. Its public API lands with the module's issue; until then it exports only its
 * package name, so the workspace and publishing stay whole.
 *
 * @example
 * ```ts
 * import { MODULE_NAME } from "@a3s/gateway";
 * console.log(MODULE_NAME);
 * ```
 * @module
 */
/** The package name. */
export const MODULE_NAME = "@a3s/gateway";
