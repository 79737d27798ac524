/**
 * `@a3s/common`: the plumbing every a3s module shares: configuration, storage (kysely over
 * SQLite or PostgreSQL), telemetry, errors, server assembly and CLI helpers.
 *
 * @example
 * ```ts
 * import { createRouter, loadConfig, openStore } from "@a3s/common";
 * const config = loadConfig({ env: {} });
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const routes = createRouter();
 * await store.close();
 * ```
 * @module
 */
export * from "./errors.ts";
export * from "./config.ts";
export * from "./store.ts";
export * from "./sqlite_dialect.ts";
export * from "./telemetry.ts";
export * from "./logger.ts";
export * from "./cli.ts";
export * from "./router.ts";
export * from "./parse_json.ts";
export * from "./server.ts";
export * from "./policy.ts";
export * from "./security/mod.ts";
export * from "./module.ts";
export * from "./module_order.ts";
export type { ModuleState } from "./module_runtime.ts";
