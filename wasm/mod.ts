/**
 * `@a3s/wasm`: the a3s hot paths compiled from AssemblyScript to WebAssembly: the tokenizer
 * (`@a3s/wasm/tokenizer`), the PII and secret scanner (`@a3s/wasm/pii`) and the host/guest
 * frame codec (`@a3s/wasm/frame`). Each is also importable on its own through its subpath.
 *
 * @example
 * ```ts
 * import { getEncoding } from "@a3s/wasm";
 * const tokenizer = await getEncoding("cl100k_base");
 * console.log(tokenizer.count("hello world"));
 * ```
 * @module
 */
export * from "./tokenizer/mod.ts";
export * from "./pii/mod.ts";
export * from "./frame/mod.ts";
