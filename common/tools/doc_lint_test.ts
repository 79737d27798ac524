import { assertEquals } from "@a3s/common/testing";
import { isNpmTypeRef, npmBindings, parseDiagnostics } from "./doc_lint.ts";

const OUTPUT = `error[private-type-ref]: public type 'Store["db"]' references private type 'Kysely'
  --> /repo/common/store.ts:30:3
   |
30 |   db<T>(): Kysely<T>;
   |   ^

error[missing-jsdoc]: exported symbol is missing JSDoc documentation
  --> /repo/common/logger.ts:10:3

error[private-type-ref]: public type 'A3sModule["configSchema"]' references private type 'ZodType'
  --> /repo/common/module.ts:68:3

error[private-type-ref]: public type 'counter' references private type 'MetricConfig'
  --> /repo/common/telemetry.ts:22:1

error: Found 4 documentation lint errors.
`;

Deno.test("doc lint output parses into one diagnostic per error", () => {
  const diagnostics = parseDiagnostics(`\x1b[31m${OUTPUT}\x1b[0m`);
  assertEquals(diagnostics.map((d) => [d.code, d.file]), [
    ["private-type-ref", "/repo/common/store.ts"],
    ["missing-jsdoc", "/repo/common/logger.ts"],
    ["private-type-ref", "/repo/common/module.ts"],
    ["private-type-ref", "/repo/common/telemetry.ts"],
  ]);
});

Deno.test("only references to types imported from npm packages are dropped", () => {
  const [kysely, jsdoc, zod, local] = parseDiagnostics(OUTPUT);
  assertEquals(isNpmTypeRef(kysely, `import type { Kysely } from "kysely";`), true);
  assertEquals(isNpmTypeRef(jsdoc, `import type { Kysely } from "kysely";`), false);
  assertEquals(
    isNpmTypeRef(zod, `import type { z } from "zod";\nconfigSchema?: z.ZodType<C>;`),
    true,
  );
  const telemetry = `import { Counter, Registry } from "prom-client";\ninterface MetricConfig {}`;
  assertEquals(isNpmTypeRef(local, telemetry), false, "a type of our own must be exported");
  assertEquals(
    [...npmBindings(`import { type A, B as C } from "x";\nimport { D } from "./d.ts";`)],
    ["A", "C"],
  );
});
