import { assertEquals } from "./_assert.ts";
import { createLogger } from "./logger.ts";

Deno.test("a field cannot overwrite a log line's own ts, level or msg", () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("info", { module: "m" }, (line) => lines.push(JSON.parse(line)));
  logger.warn("decision", { level: "Critical", msg: "forged", ts: "never", kept: 1 });
  logger.child({ level: "Normal" }).info("child");
  assertEquals(lines.map((l) => [l.level, l.msg]), [["warn", "decision"], ["info", "child"]]);
  assertEquals(lines[0].kept, 1);
  assertEquals(Object.keys(lines[0]).slice(0, 3), ["ts", "level", "msg"]);
  assertEquals(lines[0].ts === "never", false);
});
