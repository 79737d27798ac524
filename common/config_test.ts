import { assertEquals, assertThrows } from "./_assert.ts";
import { loadConfig } from "./config.ts";
import { UsageError } from "./errors.ts";

Deno.test("config defaults bind Ollama's address and resolve home from HOME", () => {
  const config = loadConfig({ env: { HOME: "/home/u" } });
  assertEquals(config.host, "127.0.0.1");
  assertEquals(config.port, 11434);
  assertEquals(config.home, "/home/u/.a3s");
  assertEquals(config.bodyLimit, 8 * 1024 * 1024);
});

Deno.test("config precedence is flag > env > file > default", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/config.json`;
  await Deno.writeTextFile(file, JSON.stringify({ port: 1000, host: "0.0.0.0", logLevel: "warn" }));
  const env = { A3S_HOME: dir, A3S_PORT: "2000" };
  assertEquals(loadConfig({ env }).host, "0.0.0.0");
  assertEquals(loadConfig({ env }).port, 2000);
  assertEquals(loadConfig({ env, flags: { port: 3000 } }).port, 3000);
  assertEquals(loadConfig({ env: { A3S_HOME: dir } }).port, 1000);
  assertEquals(loadConfig({ env }).logLevel, "warn");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("config keeps module sections from the file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ lane: { concurrency: 4 } }));
  const config = loadConfig({ env: { A3S_HOME: dir } });
  assertEquals(config.lane, { concurrency: 4 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a bad value is one line naming the key and its source", () => {
  const error = assertThrows(
    () => loadConfig({ env: { A3S_PORT: "99999", HOME: "/h" } }),
    UsageError,
  );
  assertEquals(error.message.includes("\n"), false);
  assertEquals(error.message.startsWith("config port:"), true);
  assertEquals(error.message.includes("env A3S_PORT"), true);
  const flagError = assertThrows(
    () => loadConfig({ env: { HOME: "/h" }, flags: { logLevel: "loud" } }),
    UsageError,
  );
  assertEquals(flagError.message.includes("logLevel"), true);
  assertEquals(flagError.message.includes("flag --log-level"), true);
});

Deno.test("an explicit config file that is missing or not JSON is reported", async () => {
  assertThrows(
    () => loadConfig({ env: {}, file: "/nonexistent/a3s.json" }),
    UsageError,
    "cannot be read",
  );
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bad.json`, "{port:");
  assertThrows(() => loadConfig({ env: {}, file: `${dir}/bad.json` }), UsageError, "invalid JSON");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a postgres URL is validated", () => {
  assertThrows(
    () => loadConfig({ env: { A3S_DATABASE_URL: "mysql://x", HOME: "/h" } }),
    UsageError,
    "databaseUrl",
  );
  assertEquals(
    loadConfig({ env: { A3S_DATABASE_URL: "postgres://u@h/db", HOME: "/h" } }).databaseUrl,
    "postgres://u@h/db",
  );
});
