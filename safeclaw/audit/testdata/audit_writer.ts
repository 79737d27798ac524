/**
 * A second process for the audit tests: opens the audit log on the SQLite file in `Deno.args[0]`,
 * says `ready`, waits for a line on stdin (so that all writers start together), appends
 * `Deno.args[2]` records under the session `Deno.args[1]`, and prints the failures as JSON.
 */
import { openStore } from "@a3s/common";
import { AuditLog } from "../log.ts";

const [path, writer, count] = Deno.args;
const store = await openStore({ sqlitePath: path });
const audit = await AuditLog.open(store, { hmacKey: "test-key-0123456789abcdef" });
console.log("ready");
await Deno.stdin.readable.getReader().read();
const failures: string[] = [];
for (let i = 0; i < Number(count); i++) {
  try {
    await audit.append({ kind: "classification", severity: "info", session: writer, data: { i } });
  } catch (error) {
    failures.push(String(error));
  }
}
await store.close();
console.log(JSON.stringify({ writer, failures }));
