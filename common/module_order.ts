/** The start order of modules: dependencies first, the listed order kept where free to. */
import { A3sError } from "./errors.ts";
import type { A3sModule } from "./module.ts";

/** A module list serve cannot start: a duplicate name, an unknown dependency or a cycle. */
export class ModuleGraphError extends A3sError {
  /** Names what is wrong with the module list. */
  constructor(message: string) {
    super("module_graph_invalid", message, { status: 500 });
    this.name = "ModuleGraphError";
  }
}

/**
 * Orders `modules` so each comes after everything in its `dependsOn` (a depth-first
 * topological sort). Throws a {@linkcode ModuleGraphError} naming the modules at fault.
 *
 * @example
 * ```ts
 * import { orderModules } from "@a3s/common";
 * const start = () => ({});
 * const order = orderModules([{ name: "b", dependsOn: ["a"], start }, { name: "a", start }]);
 * console.log(order.map((m) => m.name)); // ["a", "b"]
 * ```
 */
export function orderModules<M extends A3sModule>(modules: readonly M[]): M[] {
  const byName = new Map<string, M>();
  for (const module of modules) {
    if (byName.has(module.name)) {
      throw new ModuleGraphError(`module '${module.name}' is registered twice`);
    }
    byName.set(module.name, module);
  }
  const ordered: M[] = [];
  const done = new Set<string>();
  // The modules on the current depth-first path, in order, so a cycle can be printed whole.
  const path: string[] = [];
  const visit = (module: M) => {
    if (done.has(module.name)) return;
    const seen = path.indexOf(module.name);
    if (seen >= 0) {
      const cycle = [...path.slice(seen), module.name].join(" -> ");
      throw new ModuleGraphError(`module dependency cycle: ${cycle}`);
    }
    path.push(module.name);
    for (const name of module.dependsOn ?? []) {
      const dependency = byName.get(name);
      if (!dependency) {
        throw new ModuleGraphError(`module '${module.name}' depends on unknown module '${name}'`);
      }
      visit(dependency);
    }
    path.pop();
    done.add(module.name);
    ordered.push(module);
  };
  for (const module of modules) visit(module);
  return ordered;
}
